"""bulletins

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 20:51:33.196928
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulletin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("introduction", sa.String(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("topic_ids", sa.JSON(), nullable=False),
        sa.Column("everyone", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("composed_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("sent_by", sa.String(length=320), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("audience_size", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulletin")),
    )
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulletin_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulletin_status"))
    op.drop_table("bulletin")
