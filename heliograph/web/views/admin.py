"""The sysadmin page at ``/ckan-admin`` (also ``/admin``): the loaded plugins,
the signal catalog with each signal's receivers (background ones marked),
their owning plugins, and the send and failure counts, and background
delivery: the backlog per receiver, the oldest pending age, and the dead
deliveries, which can be retried or discarded there. Anyone but a sysadmin
gets the 403 page."""

from __future__ import annotations

import typing as t

import flask
from flask import Blueprint
from werkzeug.exceptions import Forbidden

from heliograph import events, model, plugins
from heliograph.events import admin as delivery_admin
from heliograph.lib import signals
from heliograph.plugins import background
from heliograph.signals import ANY
from heliograph.web import identity

blueprint = Blueprint("admin", __name__)


def _plugin_rows() -> list[dict[str, t.Any]]:
    available = plugins.available_plugins()
    rows = []
    for name in plugins.loaded_plugins():
        plugin = plugins.get_plugin(name)
        cls = type(plugin)
        rows.append(
            {
                "name": name,
                "class": f"{cls.__module__}.{cls.__qualname__}",
                "origin": available.get(name, ""),
            }
        )
    return rows


def _signal_rows() -> list[dict[str, t.Any]]:
    rows = []
    for entry in signals.catalog():
        contract = entry.contract
        stats = entry.signal.stats()
        receivers = [
            {
                "name": info.name,
                "senders": ["any sender" if s is ANY else repr(s) for s in info.senders],
                "owners": [o if isinstance(o, str) else "direct" for o in info.owners],
                "failures": info.failures,
            }
            for info in entry.signal.receiver_info()
            if background.OWNER not in info.owners
        ]
        receivers += [
            {
                "name": f"{sub.path} [background]",
                "senders": ["any sender" if sub.sender is ANY else repr(sub.sender)],
                "owners": [sub.owner],
                "failures": 0,
            }
            for sub in background.subscriptions(entry.signal)
        ]
        rows.append(
            {
                "namespace": entry.namespace,
                "name": entry.name,
                "aliases": entry.aliases,
                "signature": contract.signature() if contract else "(sender, **kwargs)",
                "sent_when": contract.sent_when if contract else None,
                "policy": entry.signal.policy,
                "sent": stats.sent,
                "failed": stats.failed,
                "receivers": receivers,
            }
        )
    return rows


def _delivery() -> dict[str, t.Any]:
    connection = model.Session.connection()
    summary = delivery_admin.summary(connection)
    ages = [r.oldest_pending_seconds for r in summary if r.oldest_pending_seconds is not None]
    return {
        "where": (
            f"broker {events.settings.broker}"
            if events.settings.broker
            else "the portal's database"
        ),
        "receivers": summary,
        "backlog": sum(r.backlog for r in summary),
        "dead": sum(r.dead for r in summary),
        "oldest": max(ages) if ages else None,
        "dead_rows": delivery_admin.list_deliveries(connection, state="dead", limit=50),
    }


def _require_sysadmin() -> None:
    _name, user = identity.identify()
    if user is None or not user.sysadmin:
        raise Forbidden("Only sysadmins can see this page.")


@blueprint.route("/admin", strict_slashes=False)
@blueprint.route("/ckan-admin", strict_slashes=False)  # registered first: url_for's choice
def index() -> str:
    _require_sysadmin()
    return flask.render_template(
        "admin/index.html",
        plugin_rows=_plugin_rows(),
        signal_rows=_signal_rows(),
        delivery=_delivery(),
    )


@blueprint.route("/ckan-admin/deliveries", methods=["POST"])
def deliveries() -> t.Any:
    """Retry or discard dead deliveries: one (``delivery_id``) or all of a receiver."""
    _require_sysadmin()
    form = flask.request.form
    action = form.get("action")
    if action not in ("retry", "discard"):
        flask.abort(400, "action must be retry or discard")
    ids: list[int] | None = None
    if form.get("delivery_id"):
        try:
            ids = [int(form["delivery_id"])]
        except ValueError:
            flask.abort(400, "delivery_id must be a number")
    receiver = form.get("receiver") or None
    if ids is None and receiver is None:
        flask.abort(400, "name a delivery_id or a receiver")
    connection = model.Session.connection()
    change = delivery_admin.retry if action == "retry" else delivery_admin.discard
    count = change(connection, ids=ids, receiver=receiver)
    model.Session.commit()
    if action == "retry":
        events.notify()
    flask.flash(f"{action}: {count} dead deliver{'y' if count == 1 else 'ies'}")
    return flask.redirect(flask.url_for("admin.index") + "#delivery")
