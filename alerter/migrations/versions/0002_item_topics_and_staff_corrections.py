"""item topics and staff corrections

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:55:07.855657
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_topic",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.String(length=64), nullable=False),
        sa.Column("assigned_by", sa.String(length=20), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"], name=op.f("fk_item_topic_item_id_item")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_topic")),
        sa.UniqueConstraint("item_id", "topic_id", name=op.f("uq_item_topic_item_id_topic_id")),
    )
    with op.batch_alter_table("item_topic", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_topic_item_id"), ["item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_topic_topic_id"), ["topic_id"], unique=False)

    op.create_table(
        "topic_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("topic_id", sa.String(length=64), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("corrected_by", sa.String(length=320), nullable=False),
        sa.Column("corrected_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_topic_correction_item_id_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_correction")),
        sa.UniqueConstraint(
            "item_id", "topic_id", name=op.f("uq_topic_correction_item_id_topic_id")
        ),
    )
    with op.batch_alter_table("topic_correction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_topic_correction_item_id"), ["item_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("topic_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_topic_correction_item_id"))

    op.drop_table("topic_correction")
    with op.batch_alter_table("item_topic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_topic_topic_id"))
        batch_op.drop_index(batch_op.f("ix_item_topic_item_id"))

    op.drop_table("item_topic")
