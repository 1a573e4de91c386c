"""the association's settings: name, logo, colour, sender, reply-to, postal address

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 02:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "association_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("logo_url", sa.String(length=500), nullable=False),
        sa.Column("colour", sa.String(length=7), nullable=False),
        sa.Column("sender_name", sa.String(length=200), nullable=False),
        sa.Column("sender_address", sa.String(length=320), nullable=False),
        sa.Column("reply_to", sa.String(length=320), nullable=False),
        sa.Column("postal_address", sa.String(length=500), nullable=False),
        sa.Column("contact", sa.String(length=320), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("association_settings")
