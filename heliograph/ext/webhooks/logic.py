"""The webhook actions and their auth functions.

Every action needs a signed-in user; a hook is touched only by its owner or
a sysadmin (who sees every hook in ``webhook_list``). Bad input is a
``ValidationError`` naming the field (the API's 409). The secret is in the
result of ``webhook_create`` and of ``webhook_update`` with
``rotate_secret``, and nowhere else.
"""

from __future__ import annotations

import collections.abc as c
import json
import time
import typing as t
import uuid

import sqlalchemy as sa

from heliograph.ext.webhooks import client, delivery, store
from heliograph.ext.webhooks import settings as webhook_settings
from heliograph.ext.webhooks.tables import (
    webhook,
    webhook_attempt,
    webhook_backlog,
    webhook_message,
)
from heliograph.plugins import toolkit as tk

Context = dict[str, t.Any]
DataDict = dict[str, t.Any]

MAX_DESCRIPTION = 1000
MAX_TOPICS = 20
DEFAULT_LIMIT = 50
MAX_LIMIT = 500


# -- input --------------------------------------------------------------------------


def _mapping(data_dict: t.Any) -> DataDict:
    if not isinstance(data_dict, dict):
        raise tk.ValidationError({"message": ["The request body must be a JSON object"]})
    return data_dict


def _id(data_dict: DataDict, name: str = "id") -> str:
    value = data_dict.get(name)
    if value in (None, ""):
        raise tk.ValidationError({name: ["Missing value"]})
    if not isinstance(value, str) or len(value) > 100:
        raise tk.ValidationError({name: ["Must be a webhook id"]})
    return value


def _bool(data_dict: DataDict, name: str, default: bool) -> bool:
    value = data_dict.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false", "yes", "no", "1", "0"}:
        return value.lower() in {"true", "yes", "1"}
    raise tk.ValidationError({name: ["Must be true or false"]})


def _int(data_dict: DataDict, name: str, default: int, top: int) -> int:
    value = data_dict.get(name, default)
    try:
        number = int(value)
        if isinstance(value, bool) or (isinstance(value, float) and value != number):
            raise ValueError
    except (TypeError, ValueError):
        raise tk.ValidationError({name: ["Must be a whole number"]}) from None
    if number < 0:
        raise tk.ValidationError({name: ["Must be 0 or more"]})
    return min(number, top)


def _url(value: t.Any) -> str:
    try:
        return client.check_url(value)
    except client.Refused as exc:
        raise tk.ValidationError({"url": [str(exc)]}) from None


def _topics(value: t.Any) -> list[str]:
    if isinstance(value, str):
        value = [item for item in value.replace(",", " ").split() if item]
    if not isinstance(value, list) or not value:
        raise tk.ValidationError({"topics": ["Must be a non-empty list of topics"]})
    if len(value) > MAX_TOPICS:
        raise tk.ValidationError({"topics": [f"At most {MAX_TOPICS} topics"]})
    bad = [item for item in value if not isinstance(item, str) or item not in delivery.PATTERNS]
    if bad:
        allowed = ", ".join(sorted(delivery.PATTERNS))
        raise tk.ValidationError({"topics": [f"Unknown topic {bad[0]!r}; use one of: {allowed}"]})
    return list(dict.fromkeys(value))


def _description(value: t.Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise tk.ValidationError({"description": ["Must be a string"]})
    if len(value) > MAX_DESCRIPTION:
        raise tk.ValidationError(
            {"description": [f"Must be at most {MAX_DESCRIPTION} characters long"]}
        )
    return value


def _secret(value: t.Any) -> str:
    try:
        return store.check_secret(value)
    except ValueError as exc:
        raise tk.ValidationError({"secret": [str(exc)]}) from None


def _filter(context: Context, field: str, value: t.Any) -> str | None:
    """The id a filter names (``organization``, ``dataset``: an id or a name;
    ``resource``: an id); the caller must be able to see it."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 100:
        raise tk.ValidationError({field: ["Must be an id or a name"]})
    action = {
        "organization": "organization_show",
        "dataset": "package_show",
        "resource": "resource_show",
    }[field]
    reader = {"user": context.get("user"), "session": context.get("session")}
    try:
        found = tk.get_action(action)(reader, {"id": value})
    except (tk.ObjectNotFound, tk.NotAuthorized):
        raise tk.ValidationError({field: [f"No {field} {value!r} that you may see"]}) from None
    return str(found["id"])


# -- who is calling -------------------------------------------------------------------


def _caller(context: Context) -> tuple[str, str, bool]:
    """(id, name, sysadmin) of the signed-in caller."""
    user = context.get("auth_user_obj")
    if user is not None and getattr(user, "id", None):
        return str(user.id), str(user.name), bool(getattr(user, "sysadmin", False))
    shown = tk.get_action("user_show")(
        {"user": context.get("user"), "session": context.get("session")}, {}
    )
    return str(shown["id"]), str(shown["name"]), bool(shown.get("sysadmin"))


def _connection(context: Context) -> t.Any:
    return context["session"].connection()


def _hook(context: Context, data_dict: DataDict, name: str = "id") -> t.Any:
    """The hook ``data_dict[name]`` names (ObjectNotFound when none), once the
    caller is known to be signed in."""
    tk.check_access("webhook_list", context, {})
    row = store.get(_connection(context), _id(data_dict, name))
    if row is None:
        raise tk.ObjectNotFound("Webhook not found")
    return row


def _owner_names(context: Context, owner_ids: c.Iterable[str]) -> dict[str, str | None]:
    names: dict[str, str | None] = {}
    for owner_id in set(owner_ids):
        try:
            shown = tk.get_action("user_show")(
                {"ignore_auth": True, "session": context.get("session")}, {"id": owner_id}
            )
            names[owner_id] = shown.get("name")
        except tk.ObjectNotFound:
            names[owner_id] = None
    return names


def _shown(context: Context, row: t.Any) -> dict[str, t.Any]:
    return store.as_dict(row, _owner_names(context, [row.owner_id])[row.owner_id])


# -- actions --------------------------------------------------------------------------


def webhook_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Create a hook of the caller's: ``url``, ``topics`` (e.g.
    ``["dataset/update", "resource/*"]`` or ``["*"]``), optional filters
    ``organization``, ``dataset``, ``resource``, a ``description``, and
    optionally its own ``secret`` (``whsec_`` + base64 of 24 to 64 bytes).
    The result holds ``secret``: it is not shown again."""
    data_dict = _mapping(data_dict)
    tk.check_access("webhook_create", context, data_dict)
    owner_id, _name, _sysadmin = _caller(context)
    url = _url(data_dict.get("url"))
    topics = _topics(data_dict.get("topics"))
    organization = _filter(context, "organization", data_dict.get("organization"))
    dataset = _filter(context, "dataset", data_dict.get("dataset"))
    resource = _filter(context, "resource", data_dict.get("resource"))
    description = _description(data_dict.get("description"))
    enabled = _bool(data_dict, "enabled", True)
    secret = _secret(data_dict["secret"]) if data_dict.get("secret") else store.new_secret()
    now = time.time()
    hook_id = str(uuid.uuid4())
    connection = _connection(context)
    connection.execute(
        webhook.insert().values(
            id=hook_id,
            owner_id=owner_id,
            url=url,
            topics=json.dumps(topics),
            organization_id=organization,
            package_id=dataset,
            resource_id=resource,
            description=description,
            enabled=enabled,
            secret=secret,
            created=now,
            updated=now,
        )
    )
    store.bump_version(connection)
    row = store.get(connection, hook_id)
    return {**_shown(context, row), "secret": secret}


@tk.side_effect_free
def webhook_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """A hook (``id``), without its secret."""
    data_dict = _mapping(data_dict)
    row = _hook(context, data_dict)
    tk.check_access("webhook_show", context, {**data_dict, "id": row.id})
    return _shown(context, row)


@tk.side_effect_free
def webhook_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """The caller's hooks, oldest first; a sysadmin's list holds every hook."""
    data_dict = _mapping(data_dict)
    tk.check_access("webhook_list", context, data_dict)
    owner_id, _name, sysadmin = _caller(context)
    query = sa.select(webhook).order_by(webhook.c.created, webhook.c.id)
    if not sysadmin:
        query = query.where(webhook.c.owner_id == owner_id)
    rows = _connection(context).execute(query).all()
    names = _owner_names(context, [row.owner_id for row in rows])
    return [store.as_dict(row, names[row.owner_id]) for row in rows]


def webhook_update(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Change a hook (``id``): any of ``url``, ``topics``, the filters,
    ``description``, ``enabled`` (``true`` turns a disabled hook back on),
    ``secret``, or ``rotate_secret=true`` for a new secret (returned once; the
    previous one still signs for ``heliograph.webhooks.rotation_seconds``)."""
    data_dict = _mapping(data_dict)
    row = _hook(context, data_dict)
    tk.check_access("webhook_update", context, {**data_dict, "id": row.id})
    now = time.time()
    values: dict[str, t.Any] = {}
    if "url" in data_dict:
        values["url"] = _url(data_dict["url"])
    if "topics" in data_dict:
        values["topics"] = json.dumps(_topics(data_dict["topics"]))
    for field, column in (
        ("organization", "organization_id"),
        ("dataset", "package_id"),
        ("resource", "resource_id"),
    ):
        if field in data_dict:
            values[column] = _filter(context, field, data_dict[field])
    if "description" in data_dict:
        values["description"] = _description(data_dict["description"])
    if "enabled" in data_dict:
        enabled = _bool(data_dict, "enabled", bool(row.enabled))
        values["enabled"] = enabled
        if enabled:
            values["disabled_reason"] = None
            values["failing_since"] = None
    new_secret: str | None = None
    if _bool(data_dict, "rotate_secret", False):
        new_secret = store.new_secret()
    elif data_dict.get("secret"):
        new_secret = _secret(data_dict["secret"])
    if new_secret is not None:
        config = webhook_settings.current()
        values["secret"] = new_secret
        values["previous_secret"] = row.secret
        values["previous_secret_until"] = now + config.rotation_seconds
    values["updated"] = now
    connection = _connection(context)
    connection.execute(webhook.update().where(webhook.c.id == row.id).values(**values))
    store.bump_version(connection)
    shown = _shown(context, store.get(connection, row.id))
    return {**shown, "secret": new_secret} if new_secret is not None else shown


def webhook_delete(context: Context, data_dict: DataDict) -> None:
    """Delete a hook (``id``) and its delivery log."""
    data_dict = _mapping(data_dict)
    row = _hook(context, data_dict)
    tk.check_access("webhook_delete", context, {**data_dict, "id": row.id})
    connection = _connection(context)
    connection.execute(webhook_attempt.delete().where(webhook_attempt.c.hook_id == row.id))
    connection.execute(webhook_backlog.delete().where(webhook_backlog.c.hook_id == row.id))
    connection.execute(webhook.delete().where(webhook.c.id == row.id))
    store.bump_version(connection)
    return None


def webhook_test(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Send a ``webhook/test`` ping to a hook (``id``) now; returns the attempt
    as the delivery log shows it."""
    data_dict = _mapping(data_dict)
    row = _hook(context, data_dict)
    tk.check_access("webhook_test", context, {**data_dict, "id": row.id})
    return _attempt_dict(delivery.ping(_connection(context), row))


@tk.side_effect_free
def webhook_delivery_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """A hook's delivery log (``id``), newest first: each attempt's time,
    ``webhook_id``, type, attempt number, status, duration, response excerpt,
    error and outcome. ``limit`` (50, at most 500) and ``offset``."""
    data_dict = _mapping(data_dict)
    row = _hook(context, data_dict)
    tk.check_access("webhook_delivery_list", context, {**data_dict, "id": row.id})
    limit = _int(data_dict, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _int(data_dict, "offset", 0, 10**9)
    delivery.flush_log()
    rows = (
        _connection(context)
        .execute(
            sa.select(webhook_attempt)
            .where(webhook_attempt.c.hook_id == row.id)
            .order_by(webhook_attempt.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        .all()
    )
    return [_attempt_dict(item._asdict()) for item in rows]


def webhook_redeliver(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Send a message of the log again (``id`` of the hook, ``message_id``:
    the ``webhook-id``), with the same ``webhook-id``; queued as a job."""
    data_dict = _mapping(data_dict)
    row = _hook(context, data_dict)
    tk.check_access("webhook_redeliver", context, {**data_dict, "id": row.id})
    msg_id = data_dict.get("message_id")
    if not isinstance(msg_id, str) or not msg_id:
        raise tk.ValidationError({"message_id": ["Missing value"]})
    delivery.flush_log()
    connection = _connection(context)
    sent = connection.execute(
        sa.select(webhook_attempt.c.id)
        .where(webhook_attempt.c.hook_id == row.id, webhook_attempt.c.message_id == msg_id)
        .limit(1)
    ).first()
    kept = connection.execute(
        sa.select(webhook_message.c.id).where(webhook_message.c.id == msg_id)
    ).first()
    if sent is None or kept is None:
        raise tk.ValidationError({"message_id": [f"No message {msg_id!r} of this webhook"]})
    if not row.enabled:
        raise tk.ValidationError({"id": ["The webhook is disabled; enable it first"]})
    job = delivery.redeliver(row.id, msg_id)
    return {"id": row.id, "message_id": msg_id, "job_id": job["id"]}


def _attempt_dict(item: dict[str, t.Any]) -> dict[str, t.Any]:
    import datetime as dt

    return {
        "id": item.get("id"),
        "webhook_id": item["message_id"],
        "type": item["event_type"],
        "attempt": item["attempt"],
        "timestamp": dt.datetime.fromtimestamp(item["at"], dt.UTC).replace(tzinfo=None).isoformat(),
        "status": item["status"],
        "duration_ms": item["duration_ms"],
        "response": item["response"],
        "error": item["error"],
        "outcome": item["outcome"],
    }


ACTIONS: dict[str, c.Callable[[Context, DataDict], t.Any]] = {
    "webhook_create": webhook_create,
    "webhook_show": webhook_show,
    "webhook_list": webhook_list,
    "webhook_update": webhook_update,
    "webhook_delete": webhook_delete,
    "webhook_test": webhook_test,
    "webhook_delivery_list": webhook_delivery_list,
    "webhook_redeliver": webhook_redeliver,
}


# -- auth ------------------------------------------------------------------------------


def signed_in(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Any signed-in user (anonymous callers are refused before this runs)."""
    return {"success": True}


def owner_only(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """The hook's owner (sysadmins pass before this runs)."""
    row = store.get(_connection(context), data_dict.get("id"))
    if row is None:
        return {"success": False, "msg": "Webhook not found"}
    owner_id, _name, _sysadmin = _caller(context)
    if row.owner_id != owner_id:
        return {"success": False, "msg": "Only the webhook's owner or a sysadmin may do this"}
    return {"success": True}


AUTH_FUNCTIONS: dict[str, c.Callable[[Context, DataDict], dict[str, t.Any]]] = {
    "webhook_create": signed_in,
    "webhook_list": signed_in,
    "webhook_show": owner_only,
    "webhook_update": owner_only,
    "webhook_delete": owner_only,
    "webhook_test": owner_only,
    "webhook_delivery_list": owner_only,
    "webhook_redeliver": owner_only,
}
