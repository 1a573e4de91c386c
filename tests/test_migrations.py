from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from alerter.db import alembic_config, create_db_engine, migrate, owned_by_alerter


def test_migrations_create_exactly_the_schema_the_models_describe(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "include_object": owned_by_alerter}
        )
        differences = compare_metadata(context, SQLModel.metadata)

    assert differences == []


def test_a_database_with_members_upgrades_to_the_latest_schema(tmp_path: Path) -> None:
    """The embedded default keeps foreign keys on: a migration that rebuilt the member table
    (dropping it under its consent log) stopped every command of an existing installation."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'alerter.db'}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0009")
        connection.execute(
            sa.text(
                "INSERT INTO member (id, email, email_hash, name, organisation, frequency, status,"
                " created_at) VALUES (1, 'jo@foundry.example', 'h', 'Jo', 'Foundry', 'weekly',"
                " 'active', '2026-03-02 09:00:00')"
            )
        )
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
