"""OpenTelemetry spans (the ``otel`` extra; off unless ``heliograph.tracing``).

With tracing on, every request is a server span (continuing the caller's
trace from its ``traceparent`` header; when an instrumentation already made
a span for the request, that one is used); every signal send is a span
under the span current at the send, ``signal <name>`` with the attributes
``heliograph.signal`` and ``heliograph.sender`` (the sender when it is a
string, such as an action's name, else its type), made through the dispatch
core's send observer (``heliograph.signals.set_send_observer``); and every
receiver call is a span under its send's span: ``receiver <name>``, with
the attributes ``heliograph.signal``, ``heliograph.receiver`` and
``heliograph.plugin``, its status an error when the receiver raised.
Receiver spans are made after the call from its measured start and end (the
dispatch core tells of a receiver call once it is over), so anything a
receiver traces itself (a nested send, a database call) is a child of the
send's span, beside the receiver's span. A send whose receiver raises under
the 'raise' policy ends its span with the error.

Spans go to the tracer provider the process configured (the OpenTelemetry
SDK with an exporter, e.g. through ``opentelemetry-instrument``); without
one, the API's default provider drops them.
"""

from __future__ import annotations

import collections.abc as c
import time
import typing as t

from heliograph.config import ConfigError

__all__ = ["TracingMiddleware", "available", "receiver_spans", "require", "send_spans"]

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


def send_spans() -> c.Callable[[t.Any, t.Any, c.Mapping[str, t.Any]], t.Any]:
    """The send observer: a current span around each signal send."""
    from heliograph.metrics import signal_label

    tracer = _tracer()

    def span(signal: t.Any, sender: t.Any, kwargs: c.Mapping[str, t.Any]) -> t.Any:
        name = signal_label(signal)
        return tracer.start_as_current_span(
            f"signal {name}",
            attributes={
                "heliograph.signal": name,
                "heliograph.sender": sender if type(sender) is str else type(sender).__qualname__,
            },
        )

    return span


def receiver_spans() -> c.Callable[[tuple[str, str, str], float, BaseException | None], None]:
    """The span maker the receiver observer calls after each receiver call."""
    from opentelemetry.trace import Status, StatusCode

    tracer = _tracer()  # a proxy until the process sets its provider: asked once

    def span(labels: tuple[str, str, str], seconds: float, error: BaseException | None) -> None:
        signal, receiver, plugin = labels
        end = time.time_ns()
        made = tracer.start_span(
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
