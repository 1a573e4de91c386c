"""Alembic environment: runs on the connection alerter.db.migrate hands over, or on
ALERTER_DATABASE_URL when invoked through the `alembic` command for authoring revisions."""

from alembic import context
from sqlmodel import SQLModel

import alerter.models  # noqa: F401  (registers the tables on SQLModel.metadata)
import subscriptions.models  # noqa: F401
from alerter.config import get_settings
from alerter.db import create_db_engine, owned_by_alerter

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        with create_db_engine(get_settings().database_url).begin() as own_connection:
            _run(own_connection)
    else:
        _run(connection)


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        # Type comparison only reports SQLModel string types as changed; alter types by hand.
        compare_type=False,
        include_object=owned_by_alerter,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
