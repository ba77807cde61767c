"""one account per e-mail address (case-insensitive, deleted users aside)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NOT_DELETED = "state != 'deleted'"


def upgrade() -> None:
    shared = (
        op.get_bind()
        .execute(
            sa.text(
                'SELECT lower(email), count(*) FROM "user" '
                f"WHERE {NOT_DELETED} GROUP BY lower(email) HAVING count(*) > 1 "
                "ORDER BY lower(email)"
            )
        )
        .all()
    )
    if shared:
        listed = ", ".join(f"{email} ({count} accounts)" for email, count in shared)
        raise RuntimeError(
            "cannot make e-mail addresses unique: these are shared by accounts that are "
            f"not deleted: {listed}. Give each account an address of its own (user_update) "
            "or delete the extra accounts (user_delete), then upgrade again."
        )
    op.create_index(
        "uq_user_email",
        "user",
        [sa.text("lower(email)")],
        unique=True,
        sqlite_where=sa.text(NOT_DELETED),
        postgresql_where=sa.text(NOT_DELETED),
    )


def downgrade() -> None:
    op.drop_index("uq_user_email", table_name="user")
