import re
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

from alerter.db import (
    alembic_config,
    create_db_engine,
    migrate,
    newest_revision,
    owned_by_alerter,
)


def test_the_newest_migration_file_names_alembics_one_head() -> None:
    """migrate() reads the newest revision from the file names to skip Alembic when nothing is
    pending: the chain must stay linear and each revision named by its file's number."""
    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [newest_revision()]


def test_migrations_create_exactly_the_schema_the_models_describe(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "include_object": owned_by_alerter}
        )
        differences = compare_metadata(context, SQLModel.metadata)

    assert differences == []


def database_at(revision: str, tmp_path: Path) -> sa.Engine:
    """An installation's SQLite database as that revision left it, with one member, Jo."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'alerter.db'}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.execute(
            sa.text(
                "INSERT INTO member (id, email, email_hash, name, organisation, frequency, status,"
                " created_at) VALUES (1, 'jo@foundry.example', 'h', 'Jo', 'Foundry', 'weekly',"
                " 'active', '2026-03-02 09:00:00')"
            )
        )
    return engine


def test_a_database_with_members_upgrades_to_the_latest_schema(tmp_path: Path) -> None:
    """The embedded default keeps foreign keys on: a migration that rebuilt the member table
    (dropping it under its consent log) stopped every command of an existing installation."""
    engine = database_at("0009", tmp_path)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO consent_event (member_id, at, action, method, detail)"
                " VALUES (1, '2026-03-02 09:00:00', 'signup', 'self-signup form', '')"
            )
        )

    migrate(engine)

    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT email FROM member")).scalars().all() == [
            "jo@foundry.example"
        ]
        assert connection.execute(sa.text("SELECT count(*) FROM consent_event")).scalar() == 1


def test_deliveries_planned_before_message_tokens_each_get_their_own(tmp_path: Path) -> None:
    engine = database_at("0011", tmp_path)
    with engine.begin() as connection:
        for period in ("2026-W10", "2026-W11"):
            connection.execute(
                sa.text(
                    "INSERT INTO delivery (member_id, kind, period, status, window_start,"
                    " window_end, item_ids, planned_at, content_key, attempts) VALUES (1,"
                    " 'digest-weekly', :period, 'planned', '2026-03-02 07:00:00',"
                    " '2026-03-09 07:00:00', '[]', '2026-03-09 07:00:00', '', 0)"
                ),
                {"period": period},
            )

    migrate(engine)

    with engine.connect() as connection:
        tokens = connection.execute(sa.text("SELECT message_token FROM delivery")).scalars().all()
    assert len(set(tokens)) == 2
    assert all(re.fullmatch("[0-9a-f]{32}", token) for token in tokens)
