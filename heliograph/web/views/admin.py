"""The sysadmin page at ``/ckan-admin`` (also ``/admin``): the loaded plugins and
the signal catalog with each signal's receivers, their owning plugins, and the
send and failure counts. Anyone but a sysadmin gets the 403 page."""

from __future__ import annotations

import typing as t

import flask
from flask import Blueprint
from werkzeug.exceptions import Forbidden

from heliograph import plugins
from heliograph.lib import signals
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


@blueprint.route("/admin", strict_slashes=False)
@blueprint.route("/ckan-admin", strict_slashes=False)  # registered first: url_for's choice
def index() -> str:
    _name, user = identity.identify()
    if user is None or not user.sysadmin:
        raise Forbidden("Only sysadmins can see this page.")
    return flask.render_template(
        "admin/index.html", plugin_rows=_plugin_rows(), signal_rows=_signal_rows()
    )
