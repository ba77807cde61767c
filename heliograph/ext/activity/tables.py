"""The plugin's tables, on a metadata of their own (created by its migrations)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

activity = sa.Table(
    "activity",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("timestamp", sa.DateTime(), nullable=False),
    sa.Column("user_id", sa.String(36), nullable=True),
    sa.Column("object_id", sa.String(36), nullable=False),
    sa.Column("activity_type", sa.String(100), nullable=False),
    sa.Column("data", sa.Text(), nullable=False),
    sa.Index("ix_activity_object_time", "object_id", "timestamp"),
    sa.Index("ix_activity_user_time", "user_id", "timestamp"),
    sa.Index("ix_activity_time", "timestamp"),
)
"""One row per recorded change; ``data`` is JSON: the snapshot and the actor's name."""

activity_scope = sa.Table(
    "activity_scope",
    metadata,
    sa.Column(
        "activity_id",
        sa.String(36),
        sa.ForeignKey("activity.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("value", sa.String(200), primary_key=True),
    sa.Index("ix_activity_scope_value", "kind", "value"),
)
"""What an activity belongs to, for filtering in SQL: ``kind='label'`` rows are
the dataset's permission labels at the time (who may see it); ``kind='group'``
rows the organization and groups the dataset was in (whose streams show it)."""
