import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from alerter.db import owned_by_alerter


def test_migrations_create_exactly_the_schema_the_models_describe(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": False, "include_object": owned_by_alerter}
        )
        differences = compare_metadata(context, SQLModel.metadata)

    assert differences == []
