"""The one place that creates the database engine, applies migrations and opens sessions."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from alerter.config import PACKAGE_DIR, get_settings

MIGRATIONS_DIR = PACKAGE_DIR / "migrations"
# Any constant: serialises migrations when several processes start together on PostgreSQL.
_MIGRATION_LOCK_ID = 4_711_2026


def create_db_engine(url: str) -> sa.Engine:
    """An engine for `url`; SQLite gets WAL mode so the web app and the worker can share it."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _configure_sqlite)
        sa.event.listen(engine, "begin", _begin_immediate)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # alerter issues BEGIN itself (below); pysqlite's own deferred BEGIN would break savepoints.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: sa.Connection) -> None:
    """Take SQLite's write lock when a transaction starts: a transaction that read and then wants
    to write after another process wrote would otherwise fail with "database is locked"."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


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


def alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate(engine: sa.Engine) -> None:
    """Apply pending migrations; safe to call from every command and from concurrent processes."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
        command.upgrade(alembic_config(connection), "head")


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
