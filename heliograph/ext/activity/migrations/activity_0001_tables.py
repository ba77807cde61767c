"""activity and activity_scope tables

Revision ID: activity_0001
Revises:
Create Date: 2026-11-24 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "activity_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=True),
        sa.Column("object_id", sa.String(36), nullable=False),
        sa.Column("activity_type", sa.String(100), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
    )
    op.create_index("ix_activity_object_time", "activity", ["object_id", "timestamp"])
    op.create_index("ix_activity_user_time", "activity", ["user_id", "timestamp"])
    op.create_index("ix_activity_time", "activity", ["timestamp"])
    op.create_table(
        "activity_scope",
        sa.Column(
            "activity_id",
            sa.String(36),
            sa.ForeignKey("activity.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
    )
    op.create_index("ix_activity_scope_value", "activity_scope", ["kind", "value"])


def downgrade() -> None:
    op.drop_table("activity_scope")
    op.drop_table("activity")
