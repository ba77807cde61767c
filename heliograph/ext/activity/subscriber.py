"""Recording activities: the ``action_succeeded`` subscriber.

The subscriber runs inside the action's transaction (see
``heliograph.lib.signals.action_succeeded``) and writes through
``context['session']``. It reads only what the signal carries; what it
needs beyond that (a deleted dataset's last state, the actor's id) it reads
through actions, with ``ignore_auth``. It never changes the arguments: the
snapshot it stores is serialised from them.
"""

from __future__ import annotations

import datetime as dt
import json
import typing as t
import uuid

from heliograph.ext.activity.tables import activity, activity_scope
from heliograph.plugins import toolkit as tk

# sender -> (object kind, verb); the kind also names the snapshot in ``data``
# (organizations are stored under ``group``, as in CKAN).
TRACKED: dict[str, tuple[str, str]] = {
    "package_create": ("package", "new"),
    "package_update": ("package", "changed"),
    "package_delete": ("package", "deleted"),
    "group_create": ("group", "new"),
    "group_update": ("group", "changed"),
    "group_delete": ("group", "deleted"),
    "organization_create": ("organization", "new"),
    "organization_update": ("organization", "changed"),
    "organization_delete": ("organization", "deleted"),
    "user_create": ("user", "new"),
    "user_update": ("user", "changed"),
}

# What of a user goes into a snapshot: never the e-mail, the API key or a hash.
USER_FIELDS = (
    "id",
    "name",
    "fullname",
    "display_name",
    "about",
    "state",
    "created",
    "image_url",
    "sysadmin",
)

# What of a group or organization stays out of a snapshot: its members, and
# counts made for the actor (who may see private datasets) that every reader
# of the activity would otherwise see.
GROUP_LEFT_OUT = frozenset({"packages", "users", "package_count", "member_count"})

_SHOW = {"package": "package_show", "group": "group_show", "organization": "organization_show"}


def record(sender: str, **kwargs: t.Any) -> None:
    """Record the activity of action ``sender``; on any failure, veto the change."""
    try:
        _record(sender, kwargs["context"], kwargs["data_dict"], kwargs["result"])
    except tk.ActionError:
        raise
    except Exception as exc:
        raise tk.ValidationError(
            {"activity": [f"The activity could not be recorded ({type(exc).__name__})"]}
        ) from exc


def _record(sender: str, context: dict[str, t.Any], data_dict: t.Any, result: t.Any) -> None:
    kind, verb = TRACKED[sender]
    session = context["session"]
    snapshot = _snapshot(kind, context, data_dict, result)
    if snapshot.get("state") == "deleted":
        verb = "deleted"
    object_id = str(snapshot["id"])
    actor_id, actor_name = _actor(context)
    if kind == "user" and actor_id is None:
        actor_id, actor_name = object_id, snapshot.get("name")  # self-registration
    scope: list[tuple[str, str]] = []
    if kind == "package":
        scope += [("label", label) for label in tk.dataset_permission_labels(snapshot)]
        groups = [snapshot.get("owner_org")]
        groups += [group.get("id") for group in snapshot.get("groups") or []]
        scope += [("group", str(group)) for group in dict.fromkeys(groups) if group]
    activity_id = str(uuid.uuid4())
    data_key = "group" if kind == "organization" else kind
    session.execute(
        activity.insert().values(
            id=activity_id,
            timestamp=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            user_id=actor_id,
            object_id=object_id,
            activity_type=f"{verb} {kind}",
            data=json.dumps({data_key: snapshot, "actor": actor_name}, default=str),
        )
    )
    if scope:
        session.execute(
            activity_scope.insert(),
            [{"activity_id": activity_id, "kind": k, "value": v} for k, v in scope],
        )


def _snapshot(
    kind: str, context: dict[str, t.Any], data_dict: t.Any, result: t.Any
) -> dict[str, t.Any]:
    """The object after the change: the action's result, or (for deletes, which
    return None) the object as its show action gives it now."""
    if not isinstance(result, dict):
        ref = data_dict.get("id") if isinstance(data_dict, dict) else None
        show = "user_show" if kind == "user" else _SHOW[kind]
        result = tk.get_action(show)(_internal(context), {"id": ref})
    if kind == "user":
        return {key: result.get(key) for key in USER_FIELDS if key in result}
    if kind in ("group", "organization"):
        return {key: value for key, value in result.items() if key not in GROUP_LEFT_OUT}
    return t.cast(dict[str, t.Any], result)


def _actor(context: dict[str, t.Any]) -> tuple[str | None, str | None]:
    """The id and name of ``context['user']``, or (None, None) for none."""
    name = context.get("user")
    if not name:
        return None, None
    known = context.get("auth_user_obj")
    if known is not None and getattr(known, "id", None) is not None:
        # The caller's own account: its name may have just changed (renaming
        # yourself), while context['user'] still holds the name it logged in with.
        return str(known.id), str(getattr(known, "name", None) or name)
    try:
        user = tk.get_action("user_show")(_internal(context), {"id": name})
    except tk.ObjectNotFound:
        raise tk.ValidationError({"user_id": ["User not found"]}) from None
    return str(user["id"]), str(user["name"])


def _internal(context: dict[str, t.Any]) -> dict[str, t.Any]:
    """A context for the subscriber's own reads, in the same session."""
    return {"session": context["session"], "user": None, "ignore_auth": True}
