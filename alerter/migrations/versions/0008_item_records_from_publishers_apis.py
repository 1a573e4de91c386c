"""item records from publishers' APIs: external id, revision, document type, status, dates

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:08:59.041122
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("revision", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("document_type", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("opens_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("closes_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("outcome_at", sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f("ix_item_closes_at"), ["closes_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_document_type"), ["document_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_outcome_at"), ["outcome_at"], unique=False)
        batch_op.create_unique_constraint(batch_op.f("uq_item_external_id"), ["external_id"])


def downgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_item_external_id"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_item_outcome_at"))
        batch_op.drop_index(batch_op.f("ix_item_document_type"))
        batch_op.drop_index(batch_op.f("ix_item_closes_at"))
        batch_op.drop_column("outcome_at")
        batch_op.drop_column("closes_at")
        batch_op.drop_column("opens_at")
        batch_op.drop_column("status")
        batch_op.drop_column("document_type")
        batch_op.drop_column("revision")
        batch_op.drop_column("external_id")
