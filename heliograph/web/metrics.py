"""``/metrics``: the portal's metrics in the Prometheus text format.

Readable by sysadmins (API token or logged-in session) and by the bearer of
the secret ``heliograph.metrics.token`` (``Authorization: Bearer TOKEN``, as
Prometheus' ``authorization`` scrape setting sends it); everyone else gets
403. The app also counts every request here (by endpoint, method and status)
and every action call (``heliograph.logic.set_action_observer``), and, with
``heliograph.metrics.receiver_timing``, every receiver call; with
``heliograph.tracing``, requests, signal sends and receiver calls are OpenTelemetry spans
(:mod:`heliograph.metrics.tracing`).
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
    """Count the app's requests and every action call; serve ``/metrics``;
    time receiver calls and trace as the configuration asks."""
    from heliograph.metrics import receivers, tracing

    timing = bool(config.get("heliograph.metrics.receiver_timing"))
    spans = sends = None
    if config.get("heliograph.tracing"):
        tracing.require()
        spans = tracing.receiver_spans()
        sends = tracing.send_spans()
        app.wsgi_app = tracing.TracingMiddleware(app.wsgi_app)  # type: ignore[method-assign]
        app.before_request(_name_span)
    receivers.install(timing=timing, spans=spans, sends=sends)
    metrics.start()  # and again in each forked worker, at its first request
    logic.set_action_observer(observe_action)
    app.before_request(_request_started)
    app.after_request(_request_finished)
    app.register_blueprint(blueprint)


ACTION_STATUSES = (
    "ok",
    "validation_error",
    "not_authorized",
    "not_found",
    "action_error",
    "exception",
)


def action_status(error: BaseException | None) -> str:
    """The ``status`` label of an action call that raised ``error`` (None: ``ok``)."""
    if error is None:
        return "ok"
    if isinstance(error, logic.ValidationError):
        return "validation_error"
    if isinstance(error, logic.NotAuthorized):
        return "not_authorized"
    if isinstance(error, logic.ObjectNotFound):
        return "not_found"
    if isinstance(error, logic.ActionError):
        return "action_error"
    return "exception"


def observe_action(name: str, seconds: float, error: BaseException | None) -> None:
    """The action observer (``heliograph.logic.set_action_observer``)."""
    metrics.observe_action(name, action_status(error), seconds)


def _name_span() -> None:
    from heliograph.metrics import tracing

    rule = flask.request.url_rule
    tracing.name_request_span(flask.request.method, rule.rule if rule is not None else None)


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
