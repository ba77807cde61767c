"""OpenTelemetry spans (the ``otel`` extra; off unless ``heliograph.tracing``).

With tracing on, every request is a server span (continuing the caller's
trace from its ``traceparent`` header; when an instrumentation already made
a span for the request, that one is used), and every receiver call is a
span under the request's span: ``receiver <name>``, with the attributes
``heliograph.signal``, ``heliograph.receiver`` and ``heliograph.plugin``, its
status an error when the receiver raised. Receiver spans are made after the
call from its measured start and end (the dispatch core tells of a receiver
call once it is over), so a receiver span never has children of its own.

There is no span per signal send: the dispatch core has no hook around a
send (only the receiver observer, told after each call). One that is entered
around every send, e.g. ``set_send_observer(factory)`` with
``factory(signal, sender)`` returning a context manager, would let the send
be a span with its receivers' spans under it.

Spans go to the tracer provider the process configured (the OpenTelemetry
SDK with an exporter, e.g. through ``opentelemetry-instrument``); without
one, the API's default provider drops them.
"""

from __future__ import annotations

import collections.abc as c
import time
import typing as t

from heliograph.config import ConfigError

__all__ = ["TracingMiddleware", "available", "receiver_spans", "require"]

TRACER_NAME = "heliograph"


def available() -> bool:
    """Whether the OpenTelemetry API can be imported."""
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    """Raise :class:`ConfigError` naming ``heliograph.tracing`` without the API."""
    if not available():
        raise ConfigError(
            "configuration key 'heliograph.tracing' is true but OpenTelemetry is not "
            "installed: pip install 'heliograph[otel]' (or set it to false)"
        )


def _tracer() -> t.Any:
    from opentelemetry import trace

    return trace.get_tracer(TRACER_NAME)


def receiver_spans() -> c.Callable[[tuple[str, str, str], float, BaseException | None], None]:
    """The span maker the receiver observer calls after each receiver call."""
    from opentelemetry.trace import Status, StatusCode

    def span(labels: tuple[str, str, str], seconds: float, error: BaseException | None) -> None:
        signal, receiver, plugin = labels
        end = time.time_ns()
        made = _tracer().start_span(
            f"receiver {receiver}",
            start_time=end - int(seconds * 1e9),
            attributes={
                "heliograph.signal": signal,
                "heliograph.receiver": receiver,
                "heliograph.plugin": plugin,
            },
        )
        if error is not None:
            made.record_exception(error)
            made.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        made.end(end_time=end)

    return span


class TracingMiddleware:
    """WSGI middleware: the request's server span around the whole application
    call, so the receivers of ``request_started`` and ``request_finished``
    are under it too."""

    def __init__(self, app: t.Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        from opentelemetry import context, propagate, trace

        if trace.get_current_span().get_span_context().is_valid:
            return self.app(environ, start_response)
        carrier = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        method = environ.get("REQUEST_METHOD", "GET")
        span = _tracer().start_span(
            method,
            context=propagate.extract(carrier),
            kind=trace.SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": environ.get("PATH_INFO", ""),
            },
        )
        token = context.attach(trace.set_span_in_context(span))

        def record_status(status: str, headers: t.Any, *args: t.Any) -> t.Any:
            code = int(status.split(" ", 1)[0])
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            return start_response(status, headers, *args)

        try:
            return self.app(environ, record_status)
        finally:
            context.detach(token)
            span.end()


def name_request_span(method: str, route: str | None) -> None:
    """Name the current request's span after its route (``GET /dataset/<id>``)."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if route and span.is_recording():
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
