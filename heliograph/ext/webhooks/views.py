"""The webhooks page of a user's profile: ``/user/<id>/webhooks``.

The owner (or a sysadmin) lists the hooks, creates one (its secret is shown
on that response only), tests, turns on and off, rotates the secret of and
deletes a hook, and reads a hook's delivery log (``/user/<id>/webhooks/<hook>``)
with a button to send a message again. Each form posts with the CSRF token and
runs the actions as the caller, so their rules decide; bad input is shown on
the page with what is wrong.
"""

from __future__ import annotations

import typing as t

import flask
from flask import Blueprint

import heliograph.plugins.toolkit as tk
from heliograph.ext.webhooks import delivery

webhooks = Blueprint("webhooks", __name__)


def _user(id: str) -> dict[str, t.Any]:
    """The profile's user, when the caller is that user or a sysadmin."""
    context = tk.action_context()
    if not context.get("user"):
        flask.abort(403, "Log in to manage webhooks")
    user = t.cast(dict[str, t.Any], tk.call_action("user_show", {"id": id}))
    me = t.cast(dict[str, t.Any], tk.call_action("user_show", {}))
    if me["id"] != user["id"] and not me.get("sysadmin"):
        flask.abort(403, "Only the user or a sysadmin manages these webhooks")
    return user


def _hooks(user: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    found = t.cast(list[dict[str, t.Any]], tk.call_action("webhook_list", {}))
    return [hook for hook in found if hook["owner_id"] == user["id"]]


def _page(
    user: dict[str, t.Any],
    status: int = 200,
    errors: dict[str, t.Any] | None = None,
    new_secret: str | None = None,
    form: dict[str, t.Any] | None = None,
    tested: dict[str, t.Any] | None = None,
) -> flask.Response:
    body = flask.render_template(
        "webhooks/index.html",
        user_dict=user,
        hooks=_hooks(user),
        errors=errors or {},
        new_secret=new_secret,
        form=form or {},
        tested=tested,
        topics=sorted(delivery.PATTERNS),
    )
    response = flask.make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _owned(user: dict[str, t.Any], hook_id: str) -> dict[str, t.Any]:
    hook = t.cast(dict[str, t.Any], tk.call_action("webhook_show", {"id": hook_id}))
    if hook["owner_id"] != user["id"]:
        flask.abort(404, "Webhook not found")
    return hook


@webhooks.route("/user/<id>/webhooks")
def index(id: str) -> flask.Response:
    return _page(_user(id))


@webhooks.route("/user/<id>/webhooks", methods=["POST"])
def create(id: str) -> flask.Response:
    user = _user(id)
    me = t.cast(dict[str, t.Any], tk.call_action("user_show", {}))
    if me["id"] != user["id"]:
        flask.abort(403, "Webhooks are created by their owner")
    form = flask.request.form
    data = {
        "url": form.get("url", ""),
        "topics": form.getlist("topics") or form.get("topics_text", "").split(),
        "organization": form.get("organization") or None,
        "dataset": form.get("dataset") or None,
        "description": form.get("description", ""),
    }
    try:
        created = tk.get_action("webhook_create")(tk.action_context(), data)
    except tk.ValidationError as exc:
        return _page(user, 400, errors=exc.error_dict, form=data)
    except tk.NotAuthorized as exc:
        flask.abort(403, exc.message or None)
    return _page(user, new_secret=created["secret"])


@webhooks.route("/user/<id>/webhooks/<hook_id>/<verb>", methods=["POST"])
def change(id: str, hook_id: str, verb: str) -> flask.Response:
    user = _user(id)
    hook = _owned(user, hook_id)
    if verb == "enable":
        tk.call_action("webhook_update", {"id": hook["id"], "enabled": True})
        flask.flash("The webhook is on.")
    elif verb == "disable":
        tk.call_action("webhook_update", {"id": hook["id"], "enabled": False})
        flask.flash("The webhook is off.")
    elif verb == "rotate":
        rotated = tk.call_action("webhook_update", {"id": hook["id"], "rotate_secret": True})
        return _page(user, new_secret=rotated["secret"])
    elif verb == "test":
        return _page(user, tested=tk.call_action("webhook_test", {"id": hook["id"]}))
    elif verb == "delete":
        tk.call_action("webhook_delete", {"id": hook["id"]})
        flask.flash("The webhook was deleted.")
    elif verb == "redeliver":
        message_id = flask.request.form.get("message_id", "")
        try:
            tk.get_action("webhook_redeliver")(
                tk.action_context(), {"id": hook["id"], "message_id": message_id}
            )
        except tk.ValidationError as exc:
            flask.abort(400, exc.summary())
        flask.flash(f"Message {message_id} will be sent again.")
        return flask.redirect(flask.url_for("webhooks.log", id=id, hook_id=hook["id"]))  # type: ignore[return-value]
    else:
        flask.abort(404)
    return flask.redirect(flask.url_for("webhooks.index", id=id))  # type: ignore[return-value]


@webhooks.route("/user/<id>/webhooks/<hook_id>")
def log(id: str, hook_id: str) -> flask.Response:
    user = _user(id)
    hook = _owned(user, hook_id)
    attempts = tk.call_action("webhook_delivery_list", {"id": hook["id"], "limit": 100})
    body = flask.render_template("webhooks/log.html", user_dict=user, hook=hook, attempts=attempts)
    response = flask.make_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response
