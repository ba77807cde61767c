"""Hooks in the database: secrets, the change counter, reading and writing rows."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import typing as t

import sqlalchemy as sa

from heliograph.ext.webhooks.tables import webhook, webhook_state

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def check_secret(value: t.Any) -> str:
    """``value`` when it is a secret a hook may sign with; ValueError saying why not."""
    if not isinstance(value, str) or not value.startswith(SECRET_PREFIX):
        raise ValueError(f"Must be {SECRET_PREFIX!r} followed by base64")
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"Must be {SECRET_PREFIX!r} followed by base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"Must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes (got {len(key)})"
        )
    return value


def bump_version(connection: t.Any) -> None:
    """Tell every worker its hooks in memory are out of date (in the caller's transaction)."""
    updated = connection.execute(
        webhook_state.update()
        .where(webhook_state.c.id == 1)
        .values(version=webhook_state.c.version + 1)
    )
    if not updated.rowcount:
        connection.execute(webhook_state.insert().values(id=1, version=1))


def topics_of(row: t.Any) -> list[str]:
    return list(json.loads(row.topics))


def as_dict(row: t.Any, owner_name: str | None = None) -> dict[str, t.Any]:
    """A hook as the actions show it: never its secrets."""
    return {
        "id": row.id,
        "url": row.url,
        "topics": topics_of(row),
        "organization": row.organization_id,
        "dataset": row.package_id,
        "resource": row.resource_id,
        "description": row.description,
        "enabled": bool(row.enabled),
        "disabled_reason": row.disabled_reason,
        "failing_since": _iso(row.failing_since),
        "owner_id": row.owner_id,
        "owner": owner_name,
        "created": _iso(row.created),
        "updated": _iso(row.updated),
        "rotating": row.previous_secret_until is not None,
    }


def _iso(unix: float | None) -> str | None:
    import datetime as dt

    if unix is None:
        return None
    return dt.datetime.fromtimestamp(unix, dt.UTC).replace(tzinfo=None).isoformat()


def get(connection: t.Any, hook_id: t.Any) -> t.Any:
    if not isinstance(hook_id, str) or not hook_id or len(hook_id) > 36:
        return None
    return connection.execute(sa.select(webhook).where(webhook.c.id == hook_id)).first()
