"""``/metrics``: the portal's metrics in the Prometheus text format.

Readable by sysadmins (API token or logged-in session) and by the bearer of
the secret ``heliograph.metrics.token`` (``Authorization: Bearer TOKEN``, as
Prometheus' ``authorization`` scrape setting sends it); everyone else gets
403. The app also counts every request here (by endpoint, method and status)
and every action call (``heliograph.logic.set_action_observer``).
"""

from __future__ import annotations

import hmac
import time

import flask
from flask import Blueprint, Flask, Response

from heliograph import logic, metrics, model
from heliograph.config import config
from heliograph.web import identity

blueprint = Blueprint("metrics", __name__)

_STARTED = "heliograph_metrics_started"


def init_app(app: Flask) -> None:
    """Count the app's requests and every action call; serve ``/metrics``."""
    logic.set_action_observer(metrics.observe_action)
    app.before_request(_request_started)
    app.after_request(_request_finished)
    app.register_blueprint(blueprint)


def _request_started() -> None:
    metrics.start()
    flask.g.setdefault(_STARTED, time.perf_counter())


def _request_finished(response: Response) -> Response:
    started = flask.g.pop(_STARTED, None)
    if started is not None:
        request = flask.request
        metrics.observe_request(
            request.endpoint or "unmatched",
            request.method,
            response.status_code,
            time.perf_counter() - started,
        )
    return response


def _bearer() -> str:
    value = (flask.request.headers.get("Authorization") or "").strip()
    return value[7:].strip() if value[:7].lower() == "bearer " else value


def _allowed() -> bool:
    secret = str(config.get("heliograph.metrics.token") or "")
    if secret and hmac.compare_digest(_bearer().encode(), secret.encode()):
        return True
    _name, user = identity.identify()
    return bool(user is not None and user.sysadmin)


@blueprint.route("/metrics")
def scrape() -> Response:
    if not _allowed():
        return Response(
            "403 Forbidden: /metrics is for sysadmins and for the bearer of the "
            "configured heliograph.metrics.token\n",
            status=403,
            mimetype="text/plain",
        )
    body = metrics.exposition(metrics.DeliveryCollector(model.Session.connection))
    return Response(body, status=200, headers={"Content-Type": metrics.CONTENT_TYPE})
