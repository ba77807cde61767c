"""password reset key on user

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 18:52:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("reset_key_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reset_key_expires", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user") as batch:
        batch.drop_column("reset_key_expires")
        batch.drop_column("reset_key_hash")
