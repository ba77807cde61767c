"""What receiver timing costs: ratios measured in one run, never absolute times.

Run it with ``.venv/bin/python bench/metrics.py`` (``--quick`` for a rough
look). It prints:

1. ``send`` to 5 receivers with the Prometheus receiver observer
   (``heliograph.metrics.receiver_timing`` on), against the same send with no
   observer;
2. the same with an observer that does nothing (what the dispatch core's
   timing costs by itself);
3. the same with a send observer that opens nothing (what taking the checked
   path for every send costs by itself);
4. the same with OpenTelemetry tracing (``heliograph.tracing``: a span per
   send and per receiver call, on the SDK's tracer provider with a processor
   that drops them; needs the ``otel`` extra, else skipped);
5. a portal request (``GET /api/3/action/status_show`` through Flask's test
   client, on SQLite, the core receivers of every request connected) with
   receiver timing on, and with tracing on, against the same request with
   both off.

Set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder to measure the
multiprocess mode (values written to memory-mapped files).

How it measures: the contenders are timed in interleaved rounds (each round
times every contender once, in a rotated order); a contender's cost is its
minimum over the rounds divided by the iteration count; the median of the
per-round ratios is shown as a hint of the noise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import timeit
import typing as t

if __package__ in (None, ""):  # run as a script from a checkout: find the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from heliograph import signals as core
from heliograph.metrics import multiprocess_dir, receivers


def _receiver(index: int) -> t.Callable[..., None]:
    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        return None

    receiver.__qualname__ = f"bench_receiver_{index}"
    return receiver


RECEIVERS = [_receiver(i) for i in range(5)]
DATA = {"id": 42, "name": "example"}


def observe_nothing(signal: t.Any, receiver: t.Any, seconds: float, exc: t.Any) -> None:
    return None


def _five() -> core.NamedSignal:
    signal = core.NamedSignal("bench_metrics_five", policy="isolate")
    for receiver in RECEIVERS:
        signal.connect(receiver, owner="bench")
    return signal


def open_nothing(signal: t.Any, sender: t.Any, kwargs: t.Any) -> None:
    return None


def _tracing_available() -> bool:
    """Whether the OpenTelemetry SDK is here; if so, make its tracer provider
    the process's, with a processor that drops every span once ended."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    except ImportError:
        return False
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SpanProcessor())  # the base class drops spans
        trace.set_tracer_provider(provider)
    return True


def _set(mode: str) -> None:
    if mode == "prometheus":
        receivers.install(timing=True)
    elif mode == "no-op":
        receivers.install(timing=False)
        core.set_receiver_observer(observe_nothing)
    elif mode == "no-op send":
        receivers.install(timing=False)
        core.set_send_observer(open_nothing)
    elif mode == "tracing":
        from heliograph.metrics import tracing

        receivers.install(timing=False, spans=tracing.receiver_spans(), sends=tracing.send_spans())
    else:
        receivers.install(timing=False)


def _time(statement: t.Callable[[], t.Any], number: int) -> float:
    return timeit.Timer(statement).timeit(number) / number


def _rounds(
    contenders: dict[str, tuple[str, t.Callable[[], t.Any]]], rounds: int, number: int
) -> dict[str, list[float]]:
    """``{name: [seconds per call, one per round]}``, modes set before each timing."""
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for index in range(rounds):
        order = names[index % len(names) :] + names[: index % len(names)]
        for name in order:
            mode, statement = contenders[name]
            _set(mode)
            statement()  # the send path for this mode is made before it is timed
            timings[name].append(_time(statement, number))
    _set("off")
    return timings


def _ratio(timings: dict[str, list[float]], num: str, den: str) -> tuple[float, float]:
    best = min(timings[num]) / min(timings[den])
    median = statistics.median(a / b for a, b in zip(timings[num], timings[den], strict=True))
    return best, median


def _portal_request() -> t.Callable[[], t.Any]:
    from heliograph.web import make_app

    instance = tempfile.mkdtemp(prefix="heliograph-bench-metrics-")
    app = make_app({"heliograph.instance_path": instance, "heliograph.plugins": ""})
    client = app.test_client()

    def request() -> t.Any:
        response = client.get("/api/3/action/status_show")
        assert response.status_code == 200
        return response

    return request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a rough look")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 31, quick 7)")
    parser.add_argument("--number", type=int, default=None, help="sends timed per round")
    args = parser.parse_args(argv)
    rounds = args.rounds or (7 if args.quick else 31)
    number = args.number or (5_000 if args.quick else 20_000)
    five = _five()

    def send() -> t.Any:
        return five.send("sender-42", user="alice", data=DATA)

    traced = _tracing_available()
    contenders = {
        "send, no observer": ("off", send),
        "send, no-op observer": ("no-op", send),
        "send, no-op send observer": ("no-op send", send),
        "send, Prometheus observer": ("prometheus", send),
    }
    if traced:
        contenders["send, tracing"] = ("tracing", send)
    sends = _rounds(contenders, rounds, number)
    request = _portal_request()
    request_contenders = {
        "request, timing off": ("off", request),
        "request, timing on": ("prometheus", request),
    }
    if traced:
        request_contenders["request, tracing"] = ("tracing", request)
    requests = _rounds(request_contenders, max(rounds // 3, 1), max(number // 100, 1))
    mode = f"multiprocess ({multiprocess_dir()})" if multiprocess_dir() else "one process"
    print(f"receiver timing, prometheus_client in {mode} mode")
    rows = [
        ("send to 5, Prometheus observer / no observer", sends, "send, Prometheus observer",
         "send, no observer"),
        ("send to 5, no-op observer / no observer", sends, "send, no-op observer",
         "send, no observer"),
        ("send to 5, no-op send observer / no observer", sends,
         "send, no-op send observer", "send, no observer"),
        ("status_show request, timing on / off", requests, "request, timing on",
         "request, timing off"),
    ]  # fmt: skip
    if traced:
        rows[3:3] = [
            ("send to 5, tracing / no observer", sends, "send, tracing", "send, no observer"),
        ]
        rows.append(
            ("status_show request, tracing on / off", requests, "request, tracing",
             "request, timing off"),
        )  # fmt: skip
    else:
        print("tracing rows skipped: the otel extra (OpenTelemetry SDK) is not installed")
    print(f"{'what':<48} {'num ns':>10} {'den ns':>10} {'ratio':>7} {'median':>7}")
    for label, timings, num, den in rows:
        best, median = _ratio(timings, num, den)
        print(
            f"{label:<48} {min(timings[num]) * 1e9:>10.1f} {min(timings[den]) * 1e9:>10.1f}"
            f" {best:>7.2f} {median:>7.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
