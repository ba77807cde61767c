"""The sysadmin page at ``/ckan-admin`` (also ``/admin``): the loaded plugins,
the signal catalog with each signal's receivers (background ones marked),
their owning plugins, the send and failure counts and the receiver timings
(the ``signal_catalog_show`` action), a chart of the sends per minute and
bars of the slowest receivers (server-drawn SVG and CSS), and background
delivery: the backlog per receiver, the oldest pending age, and the dead
deliveries, which can be retried or discarded there. Anyone but a sysadmin
gets the 403 page."""

from __future__ import annotations

import typing as t

import flask
from flask import Blueprint
from werkzeug.exceptions import Forbidden

from heliograph import events, logic, model, plugins
from heliograph.events import admin as delivery_admin
from heliograph.metrics.catalog import slowest_receivers
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


def _catalog() -> dict[str, t.Any]:
    """The live catalog, through the action the API and the CLI use too."""
    name, user = identity.identify()
    context = {"user": name, "auth_user_obj": user, "session": model.Session}
    return t.cast("dict[str, t.Any]", logic.get_action("signal_catalog_show")(context, {}))


CHART_WIDTH = 600
CHART_HEIGHT = 120


def _sends_chart(points: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """Bars of an SVG chart of the sends per minute (drawn by the template)."""
    peak = max((p["sent"] for p in points), default=0)
    width = CHART_WIDTH / max(len(points), 1)
    bars = []
    for index, point in enumerate(points):
        height = CHART_HEIGHT * point["sent"] / peak if peak else 0.0
        bars.append(
            {
                "x": round(index * width, 2),
                "y": round(CHART_HEIGHT - height, 2),
                "width": round(max(width - 1, 1), 2),
                "height": round(height, 2),
                "minute": point["minute"],
                "sent": point["sent"],
            }
        )
    total = sum(p["sent"] for p in points)
    return {
        "bars": bars,
        "peak": peak,
        "total": total,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "first": points[0]["minute"] if points else "",
        "last": points[-1]["minute"] if points else "",
    }


def _slowest(catalog: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """The slowest receivers by mean call time, with their bar's share of the slowest."""
    rows = slowest_receivers(catalog)
    top = rows[0]["seconds_mean"] if rows else 0.0
    return [{**row, "share": 100.0 * row["seconds_mean"] / top if top else 0.0} for row in rows]


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
    catalog = _catalog()
    return flask.render_template(
        "admin/index.html",
        plugin_rows=_plugin_rows(),
        catalog=catalog,
        signal_rows=catalog["signals"],
        sends_chart=_sends_chart(catalog["sends_per_minute"]),
        slowest=_slowest(catalog),
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
