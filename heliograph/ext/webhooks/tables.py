"""The plugin's tables, on a metadata of their own (created by its migrations).

Times are Unix seconds (floats), as in the delivery machinery's tables.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

webhook = sa.Table(
    "webhook",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("owner_id", sa.String(36), nullable=False),
    sa.Column("url", sa.Text(), nullable=False),
    sa.Column("topics", sa.Text(), nullable=False),
    sa.Column("organization_id", sa.String(36), nullable=True),
    sa.Column("package_id", sa.String(36), nullable=True),
    sa.Column("resource_id", sa.String(36), nullable=True),
    sa.Column("description", sa.Text(), nullable=False, server_default=""),
    sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("disabled_reason", sa.Text(), nullable=True),
    sa.Column("secret", sa.Text(), nullable=False),
    sa.Column("previous_secret", sa.Text(), nullable=True),
    sa.Column("previous_secret_until", sa.Float(), nullable=True),
    sa.Column("failing_since", sa.Float(), nullable=True),
    sa.Column("created", sa.Float(), nullable=False),
    sa.Column("updated", sa.Float(), nullable=False),
    sa.Index("ix_webhook_owner", "owner_id"),
)
"""One row per hook. ``topics`` is a JSON list; the secret signs (it is never
shown again after creation or rotation); ``previous_secret`` signs too until
``previous_secret_until`` (a rotation); ``failing_since`` is the first failure
of the current run of failures (None after a success)."""

webhook_message = sa.Table(
    "webhook_message",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("object_key", sa.String(200), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("created", sa.Float(), nullable=False),
    sa.Index("ix_webhook_message_created", "created"),
)
"""One row per message (``webhook-id``): the JSON body every hook that got it
was sent, kept for redelivery."""

webhook_attempt = sa.Table(
    "webhook_attempt",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("hook_id", sa.String(36), nullable=False),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("at", sa.Float(), nullable=False),
    sa.Column("status", sa.Integer(), nullable=True),
    sa.Column("duration_ms", sa.Float(), nullable=False),
    sa.Column("response", sa.Text(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Index("ix_webhook_attempt_hook", "hook_id", "id"),
)
"""The delivery log: one row per attempt. ``outcome`` is ``delivered``,
``retrying``, ``failed`` (no retry left), ``disabled`` (the hook was turned
off by this attempt) or ``skipped``."""

webhook_backlog = sa.Table(
    "webhook_backlog",
    metadata,
    sa.Column("hook_id", sa.String(36), primary_key=True),
    sa.Column("object_key", sa.String(200), primary_key=True),
    sa.Column("pending", sa.Integer(), nullable=False),
)
"""Messages of a hook about one object waiting for a retry: while a row is
here, later messages about the object queue behind them (order per object)."""

webhook_state = sa.Table(
    "webhook_state",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("version", sa.Integer(), nullable=False),
)
"""One row: a number raised by every change of a hook, so workers know when
the hooks they keep in memory are out of date."""
