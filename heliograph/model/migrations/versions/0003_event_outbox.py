"""event outbox and deliveries

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 08:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("signal", sa.String(length=200), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("receivers", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=False),
        sa.Column("relayed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_outbox_event_id")),
    )
    op.create_index("ix_event_outbox_relayed_id", "event_outbox", ["relayed", "id"])
    op.create_table(
        "event_delivery",
        sa.Column("id", _BigId, autoincrement=True, nullable=False),
        sa.Column("event_pk", _BigId, nullable=False),
        sa.Column("receiver", sa.String(length=300), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("lane", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("lease_until", sa.Float(), nullable=True),
        sa.Column("leased_by", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_pk"],
            ["event_outbox.id"],
            name=op.f("fk_event_delivery_event_pk_event_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_delivery")),
        sa.UniqueConstraint("event_pk", "receiver", name="uq_event_delivery_event_receiver"),
    )
    op.create_index("ix_event_delivery_event_pk", "event_delivery", ["event_pk"])
    op.create_index("ix_event_delivery_lane", "event_delivery", ["receiver", "lane", "id"])
    op.create_index(
        "ix_event_delivery_state_next", "event_delivery", ["state", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("event_delivery")
    op.drop_table("event_outbox")
