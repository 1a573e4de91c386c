"""staff session versions, rate-limited attempts of every kind, and who claimed a source

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))
    # Sign-ups and link resends are limited as logins are: one table for every kind.
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_key")
        batch_op.drop_index("ix_login_attempt_at")
    op.rename_table("login_attempt", "attempt")
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempt_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempt_key"), ["key"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE attempt RENAME CONSTRAINT pk_login_attempt TO pk_attempt")
        op.execute("ALTER SEQUENCE login_attempt_id_seq RENAME TO attempt_id_seq")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER SEQUENCE attempt_id_seq RENAME TO login_attempt_id_seq")
        op.execute("ALTER TABLE attempt RENAME CONSTRAINT pk_attempt TO pk_login_attempt")
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempt_key"))
        batch_op.drop_index(batch_op.f("ix_attempt_at"))
    op.rename_table("attempt", "login_attempt")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempt_at", ["at"], unique=False)
        batch_op.create_index("ix_login_attempt_key", ["key"], unique=False)
    with op.batch_alter_table("source", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
    with op.batch_alter_table("staff_user", schema=None) as batch_op:
        batch_op.drop_column("session_version")
