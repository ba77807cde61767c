"""OpenTelemetry (``heliograph.tracing``, the ``otel`` extra): each request a
server span, each signal send a span under it and each receiver call a
span under its send; checked with the SDK's
in-memory exporter."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

import heliograph.plugins as p
from heliograph import signals as core
from heliograph.config import ConfigError
from heliograph.lib import signals
from heliograph.metrics import receivers, tracing

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace", reason="the otel extra is absent")
from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def traced_receiver(sender: t.Any, **kwargs: t.Any) -> None:
    pass


def failing_receiver(sender: t.Any, **kwargs: t.Any) -> None:
    raise ValueError("a receiver failing on purpose")


class TracedPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> dict[t.Any, t.Any]:
        return {
            signals.request_started: [traced_receiver],
            signals.action_succeeded: [{"receiver": failing_receiver, "sender": "status_show"}],
        }


_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """The in-memory exporter, on the process's SDK tracer provider (set once:
    OpenTelemetry allows one global provider)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, sdk_trace.TracerProvider):
        trace.set_tracer_provider(sdk_trace.TracerProvider())
        provider = trace.get_tracer_provider()
    assert isinstance(provider, sdk_trace.TracerProvider)
    if not getattr(provider, "_heliograph_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        provider._heliograph_test_exporter = True  # type: ignore[attr-defined]
    _EXPORTER.clear()
    return _EXPORTER


@pytest.fixture
def traced_app(
    make_web_app: t.Any, with_plugins: t.Any, exporter: InMemorySpanExporter
) -> t.Iterator[Flask]:
    with_plugins.register("traced", TracedPlugin)
    app: Flask = make_web_app(heliograph__plugins="traced", heliograph__tracing="true")
    exporter.clear()
    yield app
    receivers.install(timing=False)


@pytest.mark.heliograph_strict(False)
def test_sends_are_spans_under_the_request_span_with_their_receivers_under_them(
    traced_app: Flask, exporter: InMemorySpanExporter
) -> None:
    client = traced_app.test_client()
    response = client.get(
        "/api/3/action/status_show",
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
    )
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    [request] = [s for s in spans if s.kind == trace.SpanKind.SERVER]
    assert request.name == "GET /api/3/action/<name>"
    assert format(request.context.trace_id, "032x") == TRACE_ID  # the caller's trace goes on
    assert request.parent is not None and format(request.parent.span_id, "016x") == PARENT_ID
    assert request.attributes["http.response.status_code"] == 200
    sends = {s.attributes["heliograph.signal"]: s for s in spans if s.name.startswith("signal ")}
    # every signal the request sent is a span, even those no receiver heard
    assert {"ckan.request_started", "ckan.action_succeeded", "ckan.request_finished"} <= set(sends)
    for send in sends.values():
        assert send.name == f"signal {send.attributes['heliograph.signal']}"
        assert send.context.trace_id == request.context.trace_id
        assert request.start_time <= send.start_time <= send.end_time <= request.end_time
    assert sends["ckan.action_succeeded"].attributes["heliograph.sender"] == "status_show"
    # the app, whose class is the portal's Flask subclass
    assert sends["ckan.request_started"].attributes["heliograph.sender"] == "Portal"
    by_receiver = {
        s.attributes["heliograph.receiver"]: s for s in spans if s.name.startswith("receiver ")
    }
    started = by_receiver[f"{__name__}.traced_receiver"]
    assert started.name == f"receiver {__name__}.traced_receiver"
    assert started.attributes["heliograph.signal"] == "ckan.request_started"
    assert started.attributes["heliograph.plugin"] == "traced"
    failed = by_receiver[f"{__name__}.failing_receiver"]
    assert failed.attributes["heliograph.signal"] == "ckan.action_succeeded"
    for span in (started, failed):
        send = sends[span.attributes["heliograph.signal"]]
        assert span.parent is not None
        assert span.parent.span_id == send.context.span_id  # under its send's span
        assert span.context.trace_id == request.context.trace_id
        assert send.start_time <= span.start_time <= span.end_time <= send.end_time
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert "ValueError: a receiver failing on purpose" in (failed.status.description or "")
    assert [e.name for e in failed.events] == ["exception"]
    assert started.status.status_code == trace.StatusCode.UNSET
    # the receiver failed under 'isolate': the send itself went well
    assert sends["ckan.action_succeeded"].status.status_code == trace.StatusCode.UNSET
    request_span_id = request.context.span_id
    assert sends["ckan.request_started"].parent.span_id == request_span_id


def test_a_send_that_raises_ends_its_span_with_the_error(exporter: InMemorySpanExporter) -> None:
    sig = core.Signal(policy=core.RAISE)

    def boom(sender: t.Any, **kwargs: t.Any) -> None:
        raise KeyError("raised through the send")

    sig.connect(boom)
    receivers.install(timing=False, spans=tracing.receiver_spans(), sends=tracing.send_spans())
    try:
        with pytest.raises(KeyError):
            sig.send("a sender")
    finally:
        receivers.install(timing=False)
    [receiver, send] = exporter.get_finished_spans()
    assert send.name == "signal anonymous"
    assert send.attributes["heliograph.sender"] == "a sender"
    assert send.status.status_code == trace.StatusCode.ERROR
    assert [e.name for e in send.events] == ["exception"]
    assert receiver.parent is not None and receiver.parent.span_id == send.context.span_id
    assert core.settings()["send_observer"] is None


@pytest.mark.heliograph_strict(False)
def test_tracing_is_off_by_default(
    make_web_app: t.Any, with_plugins: t.Any, exporter: InMemorySpanExporter
) -> None:
    with_plugins.register("traced", TracedPlugin)
    client = make_web_app(heliograph__plugins="traced").test_client()
    exporter.clear()
    assert client.get("/api/3/action/status_show").status_code == 200
    assert exporter.get_finished_spans() == ()
    assert core.settings()["receiver_observer"] is None
    assert core.settings()["send_observer"] is None


def test_tracing_without_opentelemetry_is_a_configuration_error(
    make_web_app: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracing, "available", lambda: False)
    with pytest.raises(ConfigError, match=r"'heliograph.tracing'.*heliograph\[otel\]"):
        make_web_app(heliograph__tracing="true")
