"""a random Message-ID token for each delivery

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 32 random hexadecimal digits for the rows already planned, in each database's own words.
RANDOM_TOKEN = {
    "sqlite": "lower(hex(randomblob(16)))",
    "postgresql": "md5(random()::text || clock_timestamp()::text || id::text)",
}


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_token", sa.String(length=32), nullable=True))
    op.execute(f"UPDATE delivery SET message_token = {RANDOM_TOKEN[op.get_bind().dialect.name]}")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.alter_column("message_token", existing_type=sa.String(length=32), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("message_token")
