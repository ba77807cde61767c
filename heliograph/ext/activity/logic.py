"""The activity read actions and their auth functions (CKAN's names and parameters).

Every list is newest first and pages with ``limit`` (default 31, capped at
100), ``offset``, and ``before``/``after`` (Unix timestamps, exclusive; with
``after`` alone the page holds the oldest activities after it, still newest
first). Visibility follows the objects: an activity about a dataset carries
the dataset's permission labels at the time, and a caller sees it only when
those meet the caller's labels (sysadmins see all); activities about groups,
organizations and users are public, as in CKAN.
"""

from __future__ import annotations

import collections.abc as c
import datetime as dt
import difflib
import json
import typing as t

import sqlalchemy as sa

import heliograph.plugins.toolkit as tk
from heliograph.ext.activity.tables import activity, activity_scope

Context = dict[str, t.Any]
DataDict = dict[str, t.Any]

LIMIT_DEFAULT = 31
LIMIT_MAX = 100
DIFF_TYPES = ("unified", "context", "html")
SUMMARY_KEYS = ("id", "name", "title", "display_name", "type", "state")


# -- parameters --------------------------------------------------------------------


def _mapping(data_dict: t.Any) -> DataDict:
    if not isinstance(data_dict, dict):
        raise tk.ValidationError({"message": ["The input must be a JSON object"]})
    return data_dict


def _string(data_dict: DataDict, key: str) -> str:
    value = data_dict.get(key)
    if value is None or value == "":
        raise tk.ValidationError({key: ["Missing value"]})
    if not isinstance(value, str) or "\x00" in value:
        raise tk.ValidationError({key: ["Must be a string"]})
    return value


def _integer(data_dict: DataDict, key: str, default: int) -> int:
    value = data_dict.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise tk.ValidationError({key: ["Invalid integer"]}) from None
    if isinstance(value, (bool, float)) or number < 0:
        raise tk.ValidationError({key: ["Must be a natural number"]})
    return number


def _moment(data_dict: DataDict, key: str) -> dt.datetime | None:
    value = data_dict.get(key)
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
        moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise tk.ValidationError({key: ["Must be a Unix timestamp (seconds)"]}) from None
    if isinstance(value, bool):
        raise tk.ValidationError({key: ["Must be a Unix timestamp (seconds)"]})
    return moment.replace(tzinfo=None)


def _flag(data_dict: DataDict, key: str, default: bool) -> bool:
    value = data_dict.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "0", "no", "off", ""):
        return False
    raise tk.ValidationError({key: ["Must be true or false"]})


def _types(data_dict: DataDict) -> tuple[list[str] | None, list[str] | None]:
    wanted = _string_list(data_dict, "activity_types")
    unwanted = _string_list(data_dict, "exclude_activity_types")
    if wanted is not None and unwanted is not None:
        raise tk.ValidationError(
            {"activity_types": ["Cannot be given together with exclude_activity_types"]}
        )
    return wanted, unwanted


def _string_list(data_dict: DataDict, key: str) -> list[str] | None:
    value = data_dict.get(key)
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise tk.ValidationError({key: ["Must be a list of strings"]})
    return value


# -- rows to dicts -----------------------------------------------------------------


def _timestamp(value: dt.datetime) -> str:
    return value.isoformat(timespec="microseconds")


def _dictize(session: t.Any, rows: c.Sequence[t.Any], include_data: bool) -> list[dict[str, t.Any]]:
    labels: dict[str, list[str]] = {row.id: [] for row in rows}
    if rows:
        found = session.execute(
            sa.select(activity_scope.c.activity_id, activity_scope.c.value)
            .where(activity_scope.c.kind == "label")
            .where(activity_scope.c.activity_id.in_(list(labels)))
            .order_by(activity_scope.c.value)
        )
        for activity_id, label in found:
            labels[activity_id].append(label)
    out = []
    for row in rows:
        data = json.loads(row.data)
        if not include_data:
            data = {
                key: (
                    {k: v for k, v in value.items() if k in SUMMARY_KEYS}
                    if isinstance(value, dict)
                    else value
                )
                for key, value in data.items()
            }
        out.append(
            {
                "id": row.id,
                "timestamp": _timestamp(row.timestamp),
                "user_id": row.user_id,
                "object_id": row.object_id,
                "activity_type": row.activity_type,
                "data": data,
                "permission_labels": labels[row.id],
            }
        )
    return out


# -- queries -----------------------------------------------------------------------


def _visible(context: Context) -> t.Any:
    """The condition for activities the caller may see (None: everything)."""
    labels = tk.user_permission_labels(context)
    if labels is None:
        return None
    return sa.or_(
        sa.not_(activity.c.activity_type.like("% package")),
        sa.exists(
            sa.select(1)
            .select_from(activity_scope)
            .where(activity_scope.c.activity_id == activity.c.id)
            .where(activity_scope.c.kind == "label")
            .where(activity_scope.c.value.in_(sorted(labels)))
        ),
    )


def _in_group(group_id: str) -> t.Any:
    return sa.exists(
        sa.select(1)
        .select_from(activity_scope)
        .where(activity_scope.c.activity_id == activity.c.id)
        .where(activity_scope.c.kind == "group")
        .where(activity_scope.c.value == group_id)
    )


def _page(
    context: Context, data_dict: DataDict, about: t.Any, *, typed: bool = False
) -> list[dict[str, t.Any]]:
    """The page of activities matching ``about`` that the caller may see."""
    limit = min(_integer(data_dict, "limit", LIMIT_DEFAULT), LIMIT_MAX)
    offset = _integer(data_dict, "offset", 0)
    before = _moment(data_dict, "before")
    after = _moment(data_dict, "after")
    include_data = _flag(data_dict, "include_data", False)
    query = sa.select(activity).where(about)
    visible = _visible(context)
    if visible is not None:
        query = query.where(visible)
    if typed:
        wanted, unwanted = _types(data_dict)
        if wanted is not None:
            query = query.where(activity.c.activity_type.in_(wanted))
        if unwanted is not None:
            query = query.where(activity.c.activity_type.not_in(unwanted))
    if before is not None:
        query = query.where(activity.c.timestamp < before)
    if after is not None:
        query = query.where(activity.c.timestamp > after)
    oldest_first = after is not None and before is None
    if oldest_first:
        query = query.order_by(activity.c.timestamp.asc(), activity.c.id.asc())
    else:
        query = query.order_by(activity.c.timestamp.desc(), activity.c.id.desc())
    session = context["session"]
    rows = list(session.execute(query.limit(limit).offset(offset)))
    if oldest_first:
        rows.reverse()
    return _dictize(session, rows, include_data)


def _show(context: Context, action: str, ref: str) -> dict[str, t.Any]:
    """The object as ``action`` shows it to the caller (its access rules apply)."""
    return t.cast(dict[str, t.Any], tk.get_action(action)(_reader(context), {"id": ref}))


def _reader(context: Context) -> Context:
    keep = ("session", "user", "auth_user_obj", "ignore_auth")
    return {key: context[key] for key in keep if key in context}


# -- actions -----------------------------------------------------------------------


@tk.side_effect_free
def package_activity_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """Activities about dataset ``id`` (id or name), newest first.

    Takes ``limit``, ``offset``, ``before``, ``after``, ``include_data`` and
    ``activity_types`` or ``exclude_activity_types``. Whoever can see the
    dataset may list them; each activity is shown to those who could see the
    dataset at the time.
    """
    data_dict = _mapping(data_dict)
    ref = _string(data_dict, "id")
    tk.check_access("package_activity_list", context, data_dict)
    package = _show(context, "package_show", ref)
    return _page(context, data_dict, activity.c.object_id == package["id"], typed=True)


def _group_activity_list(
    context: Context, data_dict: DataDict, kind: str
) -> list[dict[str, t.Any]]:
    data_dict = _mapping(data_dict)
    ref = _string(data_dict, "id")
    tk.check_access(f"{kind}_activity_list", context, data_dict)
    group = _show(context, f"{kind}_show", ref)
    about = sa.or_(activity.c.object_id == group["id"], _in_group(group["id"]))
    return _page(context, data_dict, about, typed=True)


@tk.side_effect_free
def group_activity_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """Activities about group ``id`` and about the datasets in it, newest first
    (parameters as ``package_activity_list``)."""
    return _group_activity_list(context, data_dict, "group")


@tk.side_effect_free
def organization_activity_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """Activities about organization ``id`` and about its datasets, newest
    first (parameters as ``package_activity_list``)."""
    return _group_activity_list(context, data_dict, "organization")


@tk.side_effect_free
def user_activity_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """Activities by user ``id`` or about that user, newest first (``limit``,
    ``offset``, ``before``, ``after``, ``include_data``)."""
    data_dict = _mapping(data_dict)
    ref = _string(data_dict, "id")
    tk.check_access("user_activity_list", context, data_dict)
    user = _show(context, "user_show", ref)
    about = sa.or_(activity.c.user_id == user["id"], activity.c.object_id == user["id"])
    return _page(context, data_dict, about)


@tk.side_effect_free
def dashboard_activity_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """The signed-in user's dashboard, newest first: what they did, what was
    done to their account, and what happened in their organizations and to
    the datasets they created. A sysadmin's dashboard is the whole site's.
    Takes ``limit``, ``offset``, ``before``, ``after``, ``include_data``."""
    data_dict = _mapping(data_dict)
    tk.check_access("dashboard_activity_list", context, data_dict)
    me = _show(context, "user_show", str(context["user"]))
    labels = tk.user_permission_labels(_reader(context))
    if labels is None:
        return _page(context, data_dict, sa.true())
    mine = sorted(labels - {"public"})
    organizations = [label.removeprefix("member-") for label in mine if label.startswith("member-")]
    about = sa.or_(
        activity.c.user_id == me["id"],
        activity.c.object_id == me["id"],
        activity.c.object_id.in_(organizations),
        sa.exists(
            sa.select(1)
            .select_from(activity_scope)
            .where(activity_scope.c.activity_id == activity.c.id)
            .where(activity_scope.c.kind == "label")
            .where(activity_scope.c.value.in_(mine))
        ),
    )
    return _page(context, data_dict, about)


def _activity(context: Context, activity_id: str) -> t.Any:
    row = context["session"].execute(sa.select(activity).where(activity.c.id == activity_id))
    found = row.first()
    if found is None:
        raise tk.ObjectNotFound("Activity not found")
    return found


@tk.side_effect_free
def activity_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Activity ``id``, with its ``data`` unless ``include_data`` is false.
    Others than sysadmins may see dataset activities only, and only those whose
    permission labels meet theirs."""
    data_dict = _mapping(data_dict)
    activity_id = _string(data_dict, "id")
    tk.check_access("activity_show", context, data_dict)
    row = _activity(context, activity_id)
    return _dictize(context["session"], [row], _flag(data_dict, "include_data", True))[0]


@tk.side_effect_free
def activity_data_show(context: Context, data_dict: DataDict) -> t.Any:
    """The ``data`` of activity ``id``, or only its ``object_type`` part
    (``package``, ``group``, ``user``)."""
    data_dict = _mapping(data_dict)
    activity_id = _string(data_dict, "id")
    tk.check_access("activity_data_show", context, data_dict)
    data = json.loads(_activity(context, activity_id).data)
    object_type = data_dict.get("object_type")
    if object_type in (None, ""):
        return data
    if object_type not in data or not isinstance(data[object_type], dict):
        raise tk.ObjectNotFound(f"Could not find object type {object_type!r} in the activity")
    return data[object_type]


@tk.side_effect_free
def activity_diff(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """The changes between activity ``id`` and the activity before it on the
    same object: ``{"diff": str, "activities": [previous, this]}``.

    ``object_type`` (required: ``package``, ``group``, ``user``) names the
    snapshot compared, as sorted, indented JSON; ``diff_type`` is
    ``unified`` (default), ``context`` or ``html``.
    """
    data_dict = _mapping(data_dict)
    activity_id = _string(data_dict, "id")
    object_type = _string(data_dict, "object_type")
    diff_type = data_dict.get("diff_type") or "unified"
    if diff_type not in DIFF_TYPES:
        raise tk.ValidationError({"message": "diff_type not recognized"})
    tk.check_access("activity_diff", context, data_dict)
    this = _activity(context, activity_id)
    earlier = sa.or_(
        activity.c.timestamp < this.timestamp,
        sa.and_(activity.c.timestamp == this.timestamp, activity.c.id < this.id),
    )
    query = (
        sa.select(activity)
        .where(activity.c.object_id == this.object_id, earlier)
        .order_by(activity.c.timestamp.desc(), activity.c.id.desc())
        .limit(1)
    )
    visible = _visible(context)
    if visible is not None:
        query = query.where(visible)
    previous = context["session"].execute(query).first()
    if previous is None:
        raise tk.ObjectNotFound("Previous activity for this object not found")
    before, after = (json.loads(row.data).get(object_type) for row in (previous, this))
    if not isinstance(before, dict) or not isinstance(after, dict):
        raise tk.ObjectNotFound(f"Could not find object type {object_type!r} in the activities")
    old = json.dumps(before, indent=2, sort_keys=True).split("\n")
    new = json.dumps(after, indent=2, sort_keys=True).split("\n")
    if diff_type == "html":
        diff = difflib.HtmlDiff().make_table(old, new)
    else:
        differ = difflib.unified_diff if diff_type == "unified" else difflib.context_diff
        diff = "\n".join(differ(old, new, lineterm=""))
    return {
        "diff": diff,
        "activities": _dictize(context["session"], [previous, this], True),
    }


ACTIONS: dict[str, c.Callable[[Context, DataDict], t.Any]] = {
    "package_activity_list": package_activity_list,
    "group_activity_list": group_activity_list,
    "organization_activity_list": organization_activity_list,
    "user_activity_list": user_activity_list,
    "dashboard_activity_list": dashboard_activity_list,
    "activity_show": activity_show,
    "activity_data_show": activity_data_show,
    "activity_diff": activity_diff,
}


# -- auth --------------------------------------------------------------------------


def _ok() -> dict[str, t.Any]:
    return {"success": True}


@tk.auth_allow_anonymous_access
def package_activity_list_auth(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Whoever may see the dataset."""
    tk.check_access("package_show", _reader(context), {"id": data_dict.get("id")})
    return _ok()


@tk.auth_allow_anonymous_access
def public_list_auth(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Group, organization and user streams are public; each activity is then
    filtered by its labels."""
    return _ok()


def dashboard_auth(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Signed-in users (anonymous callers are refused before this runs)."""
    return _ok()


@tk.auth_allow_anonymous_access
def activity_show_auth(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """A dataset activity whose labels meet the caller's (sysadmins pass earlier)."""
    row = _activity(context, _string(data_dict, "id"))
    if not row.activity_type.endswith(" package"):
        return {"success": False, "msg": "Only dataset activities can be shown"}
    visible = _visible(context)
    if visible is not None:
        query = sa.select(activity.c.id).where(activity.c.id == row.id, visible)
        if context["session"].execute(query).first() is None:
            return {"success": False, "msg": "Not authorized to see this activity"}
    return _ok()


AUTH_FUNCTIONS: dict[str, c.Callable[[Context, DataDict], dict[str, t.Any]]] = {
    "package_activity_list": package_activity_list_auth,
    "group_activity_list": public_list_auth,
    "organization_activity_list": public_list_auth,
    "user_activity_list": public_list_auth,
    "dashboard_activity_list": dashboard_auth,
    "activity_show": activity_show_auth,
    "activity_data_show": activity_show_auth,
    "activity_diff": activity_show_auth,
}
