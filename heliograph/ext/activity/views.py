"""The activity pages, at CKAN's addresses.

- ``/dataset/activity/<id>``, ``/organization/activity/<id>``,
  ``/group/activity/<id>``, ``/user/activity/<id>``: an object's stream,
  newest first, 31 a page, with newer/older links (``?before=``/``?after=``);
- ``/dashboard``: the signed-in user's stream (others are sent to log in);
- ``/dataset/changes/<activity_id>``: what that activity changed in the
  dataset, against the activity before it: a summary in words ("Changed the
  title to ..."), each changed field before and after, then the line diff of
  the two snapshots; long values wrap, so the page fits a phone's width.

The dataset, organization, group and user pages show the latest activities
too: the plugin's templates extend the portal's and fill their ``activity``
block through the ``activity_stream`` template global. Each page runs the read
actions as the caller, so the actions' visibility rules decide what is shown;
a refusal is the portal's 403 or 404 page.
"""

from __future__ import annotations

import datetime as dt
import typing as t

import flask
from flask import Blueprint

import heliograph.plugins.toolkit as tk
from heliograph.ext.activity.changes import summarize

activity = Blueprint("activity", __name__)

PAGE = 31
EMBEDDED = 5

PHRASES = {
    "new package": "created the dataset",
    "changed package": "updated the dataset",
    "deleted package": "deleted the dataset",
    "new group": "created the group",
    "changed group": "updated the group",
    "deleted group": "deleted the group",
    "new organization": "created the organization",
    "changed organization": "updated the organization",
    "deleted organization": "deleted the organization",
    "new user": "signed up as",
    "changed user": "updated the profile of",
}
_READ = {"package": "dataset.read", "group": "group.read", "organization": "organization.read"}


def _unix(timestamp: str) -> float:
    return dt.datetime.fromisoformat(timestamp).replace(tzinfo=dt.UTC).timestamp()


def _page_args() -> dict[str, t.Any]:
    """``before``/``after`` of the query string, checked: bad values are a 400."""
    args: dict[str, t.Any] = {}
    for key in ("before", "after"):
        value = flask.request.args.get(key)
        if value:
            try:
                args[key] = float(value)
            except ValueError:
                flask.abort(400, f"{key} must be a Unix timestamp")
    return args


def _stream(action: str, data_dict: dict[str, t.Any], **page: t.Any) -> str:
    """Render the page of activities ``action`` gives, with newer/older links."""
    args = _page_args()
    found = tk.call_action(action, {**data_dict, **args, "limit": PAGE + 1})
    has_more = len(found) > PAGE
    if "after" in args and "before" not in args:
        items = found[1:] if has_more else found  # the oldest after, newest first
        newer = _unix(items[0]["timestamp"]) if has_more and items else None
        older = _unix(items[-1]["timestamp"]) if items else None
    else:
        items = found[:PAGE]
        older = _unix(items[-1]["timestamp"]) if has_more else None
        newer = _unix(items[0]["timestamp"]) if args and items else None
    return flask.render_template(
        "activity/stream.html", activities=items, newer=newer, older=older, **page
    )


@activity.route("/dataset/activity/<id>")
def package_activity(id: str) -> str:
    package = tk.call_action("package_show", {"id": id})
    return _stream(
        "package_activity_list",
        {"id": package["id"]},
        heading=package.get("title") or package["name"],
        back=flask.url_for("dataset.read", id=package["name"]),
    )


def _group_activity(kind: str, id: str) -> str:
    group = tk.call_action(f"{kind}_show", {"id": id})
    return _stream(
        f"{kind}_activity_list",
        {"id": group["id"]},
        heading=group.get("title") or group["name"],
        back=flask.url_for(f"{kind}.read", id=group["name"]),
    )


@activity.route("/organization/activity/<id>")
def organization_activity(id: str) -> str:
    return _group_activity("organization", id)


@activity.route("/group/activity/<id>")
def group_activity(id: str) -> str:
    return _group_activity("group", id)


@activity.route("/user/activity/<id>")
def user_activity(id: str) -> str:
    user = tk.call_action("user_show", {"id": id})
    return _stream(
        "user_activity_list",
        {"id": user["id"]},
        heading=user.get("fullname") or user["name"],
        back=flask.url_for("user.read", id=user["name"]),
    )


@activity.route("/dashboard")
def dashboard() -> t.Any:
    if not tk.action_context().get("user"):
        return flask.redirect(flask.url_for("user.login"))
    return _stream("dashboard_activity_list", {}, heading="Dashboard", back=None)


@activity.route("/dataset/changes/<id>")
def changes(id: str) -> str:
    shown = tk.call_action(
        "activity_diff", {"id": id, "object_type": "package", "diff_type": "unified"}
    )
    previous, this = shown["activities"]
    package = this["data"]["package"]
    before = previous["data"].get("package") or {}
    return flask.render_template(
        "activity/changes.html",
        summary=summarize(before, package),
        diff_lines=shown["diff"].splitlines()[2:],  # without the ---/+++ header
        previous=previous,
        this=this,
        package=package,
    )


@activity.app_context_processor
def _globals() -> dict[str, t.Any]:
    return {
        "activity_stream": activity_stream,
        "activity_phrase": lambda a: PHRASES.get(a["activity_type"], a["activity_type"]),
        "activity_object_url": activity_object_url,
    }


def activity_stream(kind: str, id: str, limit: int = EMBEDDED) -> list[dict[str, t.Any]]:
    """The latest activities of a ``package``, ``organization``, ``group`` or
    ``user`` the caller may see; none when the action refuses."""
    try:
        return t.cast(
            list[dict[str, t.Any]],
            tk.get_action(f"{kind}_activity_list")(tk.action_context(), {"id": id, "limit": limit}),
        )
    except (tk.NotAuthorized, tk.ObjectNotFound, tk.ValidationError):
        return []


def activity_object_url(item: dict[str, t.Any]) -> str | None:
    """The page of what an activity is about (by its name at the time)."""
    kind = item["activity_type"].split(" ", 1)[1]
    data = item.get("data") or {}
    snapshot = data.get("group" if kind == "organization" else kind) or {}
    name = snapshot.get("name")
    if not name:
        return None
    if kind == "user":
        return flask.url_for("user.read", id=name)
    endpoint = _READ.get(kind)
    if kind == "package" and snapshot.get("type") not in (None, "dataset"):
        endpoint = f"{snapshot['type']}.read"
    try:
        return flask.url_for(endpoint, id=name) if endpoint else None
    except Exception:  # a dataset type whose plugin is no longer loaded
        return None
