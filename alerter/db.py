"""The one place that creates the database engine, applies migrations and opens sessions."""

import logging
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from alerter.config import PACKAGE_DIR, get_settings

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
# Any constant: serialises migrations when several processes start together on PostgreSQL.
_MIGRATION_LOCK_ID = 4_711_2026


def create_db_engine(url: str) -> sa.Engine:
    """An engine for `url`. On SQLite (the embedded default, shared by the web app and the
    worker) transactions take the write lock at their first write only, see below."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        sa.event.listen(engine, "connect", _configure_sqlite)
        sa.event.listen(engine, "before_cursor_execute", _begin_before_first_write)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


# SQLite lets one connection write at a time. In WAL mode readers never wait for it, so alerter
# reads outside any transaction (each statement sees what is committed, as PostgreSQL's READ
# COMMITTED does) and opens a transaction with BEGIN IMMEDIATE at the first write: the write lock
# is held from that write to the commit, which every caller keeps short (nothing slow, no
# fetching, rendering or sending, between them). A transaction that upgraded from reading would
# fail at once, without waiting, whenever another connection had written since it began.
#
# A writer waits up to the busy timeout for the lock, and BEGIN IMMEDIATE is tried again (with a
# warning) until WRITE_LOCK_PATIENCE_SECONDS have passed: well under a delivery's lease, so a
# sender marking its rows sent is never overtaken by another sender because it waited.
SQLITE_BUSY_TIMEOUT_SECONDS = 10.0
WRITE_LOCK_PATIENCE_SECONDS = 30.0
_READS = re.compile(r"\s*(SELECT|PRAGMA)\b", re.IGNORECASE)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # No implicit BEGIN from pysqlite: alerter issues BEGIN IMMEDIATE itself (below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_before_first_write(
    connection: sa.Connection,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    """Reads run on their own; the first other statement (a write, a savepoint) begins."""
    if not _READS.match(statement):
        _begin_immediate(connection)


def _begin_immediate(connection: sa.Connection) -> None:
    """BEGIN IMMEDIATE unless begun, tried again while another connection holds the lock."""
    dbapi_connection = connection.connection.dbapi_connection
    assert isinstance(dbapi_connection, sqlite3.Connection)
    if dbapi_connection.in_transaction:
        return
    waited = 0.0
    while True:
        started = time.monotonic()
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if not error.sqlite_errorname.startswith("SQLITE_BUSY"):
                raise
            waited += time.monotonic() - started
            if waited >= WRITE_LOCK_PATIENCE_SECONDS:
                raise sqlite3.OperationalError(
                    f"database is locked: another process held the SQLite write lock for "
                    f"{waited:.0f} s (a long transaction, or an sqlite3 shell left open)"
                ) from error
            log.warning("waited %.0f s for the SQLite write lock; still trying", waited)


def write_lock_busy(error: sa.exc.OperationalError) -> bool:
    """The SQLite write lock stayed taken for longer than a writer waits (see above)."""
    return isinstance(error.orig, sqlite3.OperationalError) and str(error.orig).startswith(
        "database is locked"
    )


def begin_writing(connection: sa.Connection) -> None:
    """Take the write lock now, before the reads of a transaction whose writes depend on them
    and must not be overtaken by another writer (migrations). PostgreSQL needs nothing here:
    its callers lock what they need (FOR UPDATE, advisory locks)."""
    if connection.dialect.name == "sqlite":
        _begin_immediate(connection)


def among(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """`column IN values`. On PostgreSQL it is `column = ANY(array)`: one parameter instead of
    one per value, which spares the server planning a new statement for every list length."""
    if session.get_bind().dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)
    return column.in_(values)


def insert_ignoring_duplicates(session: Session, table: sa.Table, unique: list[str]) -> Any:
    """An INSERT that skips rows another process wrote first (the `unique` columns)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=unique)


# Tables in the database that alerter's migrations do not own: the worker's job store, which
# APScheduler creates and keeps itself.
FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def owned_by_alerter(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's include_object: leave the tables alerter does not own out of comparisons."""
    table = getattr(obj, "table", obj) if type_ != "table" else obj
    return getattr(table, "name", name) not in FOREIGN_TABLES


def alembic_config(connection: sa.Connection | None = None) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def newest_revision() -> str:
    """The newest migration's revision, read from its file name: each revision is named by the
    number its file starts with, one after another (a test checks it is Alembic's head)."""
    return max(path.name[:4] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))


def migrate(engine: sa.Engine) -> None:
    """Apply pending migrations; safe to call from every command and from concurrent processes."""
    if _at_revision(engine, newest_revision()):
        return  # every command checks: when nothing is pending, Alembic is not even imported
    from alembic import command

    with engine.begin() as connection:
        begin_writing(connection)  # SQLite: one process migrates, the others then find it done
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        command.upgrade(alembic_config(connection), "head")


def _at_revision(engine: sa.Engine, revision: str) -> bool:
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return False
        return list(connection.execute(sa.text("SELECT version_num FROM alembic_version"))) == [
            (revision,)
        ]


@lru_cache
def get_engine() -> sa.Engine:
    """The process-wide engine for ALERTER_DATABASE_URL, migrated to the latest schema."""
    engine = create_db_engine(get_settings().database_url)
    migrate(engine)
    return engine


@contextmanager
def session_scope(engine: sa.Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
