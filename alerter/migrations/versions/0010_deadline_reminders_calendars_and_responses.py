"""deadline reminders and calendar links for members; the association's responses

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain "0" default, not sa.false(): with an expression SQLite would rebuild the member
    # table, and dropping it under its consent log fails while foreign keys are on.
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deadline_reminders", sa.Boolean(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("calendar_version", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "association_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("respond_by", sa.Date(), nullable=False),
        sa.Column("marked_by", sa.String(length=320), nullable=False),
        sa.Column("marked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["item.id"], name=op.f("fk_association_response_item_id_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_association_response")),
        sa.UniqueConstraint("item_id", name=op.f("uq_association_response_item_id")),
    )


def downgrade() -> None:
    op.drop_table("association_response")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("calendar_version")
        batch_op.drop_column("deadline_reminders")
