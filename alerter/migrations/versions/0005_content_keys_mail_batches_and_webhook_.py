"""content keys, mail batches and webhook events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 06:29:48.586173
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_batch",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("send_at", sa.DateTime(), nullable=False),
        sa.Column("cancel_by", sa.DateTime(), nullable=False),
        sa.Column("claim", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_batch")),
    )
    op.create_table(
        "mail_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sg_event_id", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_event")),
        sa.UniqueConstraint("sg_event_id", name=op.f("uq_mail_event_sg_event_id")),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("content_key", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("batch_id", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_delivery_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            "ix_delivery_claimable", ["kind", "period", "status", "content_key", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_claimable")
        batch_op.drop_index(batch_op.f("ix_delivery_batch_id"))
        batch_op.drop_column("batch_id")
        batch_op.drop_column("content_key")

    op.drop_table("mail_event")
    op.drop_table("mail_batch")
