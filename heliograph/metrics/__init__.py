"""What the portal counts and times, in Prometheus' terms (``prometheus_client``).

The metrics (all in :data:`REGISTRY`):

- ``heliograph_signal_sends_total{signal}``: sends of each catalog signal
  (``namespace.name``);
- ``heliograph_signal_failures_total{signal}`` and
  ``heliograph_receiver_failures_total{signal,receiver,plugin}``: receiver
  calls that raised under the 'isolate' policy (the latter counted as
  ``receiver_failed`` announces each);
- ``heliograph_receiver_duration_seconds{signal,receiver,plugin}``: a
  histogram of receiver call times, filled while receiver timing is on
  (``heliograph.metrics.receiver_timing``);
- ``heliograph_action_duration_seconds{action,status}``: a histogram of
  action calls (its ``_count`` counts the calls), ``status`` one of
  ``ok``, ``validation_error``, ``not_authorized``, ``not_found``,
  ``action_error``, ``exception`` (:mod:`heliograph.web.metrics` observes
  the actions);
- ``heliograph_http_requests_total{endpoint,method,status}`` and
  ``heliograph_http_request_duration_seconds{endpoint}``;
- ``heliograph_delivery_*{receiver,plugin,kind}`` gauges of background
  delivery, read from the database when the metrics are collected
  (:class:`DeliveryCollector`).

Sends and failures are the dispatch core's own counters
(:meth:`~heliograph.signals.Signal.stats`), copied into the Prometheus
counters by :func:`sync`: when metrics are read, once a second in a
background thread, and when the process exits. So a send costs nothing more
than the core's count. Requests and action calls wait in a queue for the same
sync (a request takes no lock for its metrics), so reading the metrics shows
them all; in multiprocess mode, where another process may answer the scrape,
they are recorded as they happen.

Several processes (gunicorn workers) report together in the library's
multiprocess mode: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder
before the processes start; each writes its values there and
:func:`exposition` adds them up, whichever process answers.
"""

from __future__ import annotations

import atexit
import collections
import collections.abc as c
import functools
import logging
import os
import threading
import time
import typing as t
from types import MethodType

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from heliograph.lib import signals as lib_signals
from heliograph.plugins import background
from heliograph.signals import Signal, receiver_failed

__all__ = [
    "CONTENT_TYPE",
    "REGISTRY",
    "DeliveryCollector",
    "collect",
    "exposition",
    "multiprocess_dir",
    "observe_action",
    "observe_request",
    "receiver_name",
    "signal_label",
    "sync",
]

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST

_MULTIPROCESS_DIR: str | None = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
"""Read once: ``prometheus_client`` chooses its storage when it is imported."""


def multiprocess_dir() -> str | None:
    """The folder the processes share their values in, or None (one process)."""
    return _MULTIPROCESS_DIR


REGISTRY = CollectorRegistry(auto_describe=True)
"""The registry of every heliograph metric (not the library's global one)."""

TIME_BUCKETS = (
    0.00001,
    0.00005,
    0.0001,
    0.0005,
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
)
"""Receiver and action time buckets, in seconds: 10 µs to 5 s."""

SIGNAL_SENDS = Counter(
    "heliograph_signal_sends", "Sends of each signal.", ["signal"], registry=REGISTRY
)
SIGNAL_FAILURES = Counter(
    "heliograph_signal_failures",
    "Receiver calls of each signal that raised (isolate policy).",
    ["signal"],
    registry=REGISTRY,
)
RECEIVER_FAILURES = Counter(
    "heliograph_receiver_failures",
    "Calls of each receiver that raised (isolate policy).",
    ["signal", "receiver", "plugin"],
    registry=REGISTRY,
)
RECEIVER_SECONDS = Histogram(
    "heliograph_receiver_duration_seconds",
    "Time of each receiver call (while heliograph.metrics.receiver_timing is on).",
    ["signal", "receiver", "plugin"],
    buckets=TIME_BUCKETS,
    registry=REGISTRY,
)
ACTION_SECONDS = Histogram(
    "heliograph_action_duration_seconds",
    "Time of each action call, with its commit; _count counts the calls.",
    ["action", "status"],
    buckets=TIME_BUCKETS,
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "heliograph_http_requests",
    "HTTP requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "heliograph_http_request_duration_seconds",
    "Time from the request's start to its response, by endpoint.",
    ["endpoint"],
    registry=REGISTRY,
)

# -- actions and requests ----------------------------------------------------------


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    """Count a request and its time (into the metrics by the next :func:`sync`;
    at once in multiprocess mode)."""
    _observed.append((endpoint, method, status, seconds))
    if _AT_ONCE or len(_observed) > MAX_OBSERVED:
        _record_observed()


def observe_action(name: str, status: str, seconds: float) -> None:
    """Time an action call (into the metrics by the next :func:`sync`; at
    once in multiprocess mode)."""
    _observed.append((name, status, seconds))
    if _AT_ONCE or len(_observed) > MAX_OBSERVED:
        _record_observed()


_AT_ONCE = multiprocess_dir() is not None
"""In multiprocess mode another process may answer the scrape, and it cannot
sync this one's queue: observations are recorded as they happen."""


MAX_OBSERVED = 4096
"""Observations waiting for :func:`sync` before the observer records them itself."""

_observed: collections.deque[tuple[t.Any, ...]] = collections.deque()
"""Requests and action calls observed, not yet in the metrics: appending to a
deque takes no lock, where each Prometheus counter and histogram takes its own."""


def _record_observed() -> None:
    observed = _observed
    while True:
        try:
            item = observed.popleft()
        except IndexError:
            return
        if len(item) == 4:
            endpoint, method, status, seconds = item
            key = (endpoint, method, status)
            children = _request_children.get(key)
            if children is None:
                children = _request_children[key] = (
                    HTTP_REQUESTS.labels(endpoint, method, str(status)),
                    HTTP_SECONDS.labels(endpoint),
                )
            children[0].inc()
            children[1].observe(seconds)
        else:
            name, status, seconds = item
            child = _action_children.get((name, status))
            if child is None:
                child = _action_children[name, status] = ACTION_SECONDS.labels(name, status)
            child.observe(seconds)


# The labelled children, kept: labels() validates and looks them up under a
# lock on every call. As many as the metrics hold; in multiprocess mode a
# child notices a fork on its own.
_request_children: dict[tuple[str, str, int], tuple[t.Any, t.Any]] = {}
_action_children: dict[tuple[str, str], t.Any] = {}


# -- signals -------------------------------------------------------------------------


def signal_label(signal: Signal) -> str:
    """``namespace.name`` for a catalog signal, the name of another named
    signal, ``anonymous`` for the rest (never an address: labels stay few)."""
    label = _labels().get(id(signal))
    if label is not None:
        return label
    name = getattr(signal, "name", None)
    return name if isinstance(name, str) else "anonymous"


_label_cache: dict[int, str] = {}
_label_cache_size = -1


def _labels() -> dict[int, str]:
    global _label_cache, _label_cache_size
    size = sum(len(namespace) for namespace in lib_signals.namespaces.values())
    if size != _label_cache_size:
        found: dict[int, str] = {}
        for ns_name, namespace in lib_signals.namespaces.items():
            for sig in list(namespace.values()):
                found.setdefault(id(sig), f"{ns_name}.{sig.name}")
        _label_cache, _label_cache_size = found, size
    return _label_cache


def owner_label(owners: c.Iterable[t.Any]) -> str:
    """The ``plugin`` label: the plugin names that connected a receiver,
    ``direct`` for a plain ``connect``."""
    names = sorted({o for o in owners if isinstance(o, str)})
    if background.OWNER in names:
        names.remove(background.OWNER)
    return ",".join(names) if names else "direct"


class _Counts:
    """The core's counters as last copied into the Prometheus counters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.signals: dict[str, tuple[int, int]] = {}
        self.minutes: collections.deque[tuple[int, int]] = collections.deque(maxlen=60)


_counts = _Counts()


def sync() -> None:
    """Copy the core's send and failure counts into the Prometheus counters,
    and the requests and action calls observed since the last sync."""
    _record_observed()
    with _counts.lock:
        sent_now = 0
        for entry in lib_signals.catalog():
            label = f"{entry.namespace}.{entry.name}"
            stats = entry.signal.stats()
            sent, failed = _counts.signals.get(label, (0, 0))
            if stats.sent < sent or stats.failed < failed:  # a new signal object
                sent = failed = 0
            if stats.sent > sent:
                SIGNAL_SENDS.labels(label).inc(stats.sent - sent)
                sent_now += stats.sent - sent
            if stats.failed > failed:
                SIGNAL_FAILURES.labels(label).inc(stats.failed - failed)
            _counts.signals[label] = (stats.sent, stats.failed)
        _count_minute(sent_now)


def receiver_name(receiver: t.Any) -> str:
    """A receiver's dotted name, as the catalog (``ReceiverInfo.name``) gives it."""
    if isinstance(receiver, functools.partial):
        return f"partial({receiver_name(receiver.func)})"
    if isinstance(receiver, MethodType):
        owner = type(receiver.__self__)
        return f"{owner.__module__}.{owner.__qualname__}.{receiver.__func__.__name__}"
    qualname = getattr(receiver, "__qualname__", None)
    module = getattr(receiver, "__module__", None)
    if qualname is None:
        cls = type(receiver)
        qualname, module = f"{cls.__qualname__} instance", cls.__module__
    return f"{module}.{qualname}" if module else str(qualname)


def _count_failure(signal: Signal, **kwargs: t.Any) -> None:
    """Receiver of ``receiver_failed``: one failure of one receiver."""
    RECEIVER_FAILURES.labels(
        signal_label(signal),
        receiver_name(kwargs.get("receiver")),
        owner_label(kwargs.get("owners") or ()),
    ).inc()


receiver_failed.connect(_count_failure, weak=False)


def _count_minute(sent: int) -> None:
    minute = int(time.time() // 60)
    minutes = _counts.minutes
    if minutes and minutes[-1][0] == minute:
        minutes[-1] = (minute, minutes[-1][1] + sent)
    else:
        minutes.append((minute, sent))


def sends_per_minute(last: int = 60) -> list[tuple[int, int]]:
    """``(minute, sends)`` of every catalog signal in this process for the
    last ``last`` minutes, oldest first (minutes since the epoch, UTC)."""
    sync()
    now = int(time.time() // 60)
    seen = dict(_counts.minutes)
    return [(minute, seen.get(minute, 0)) for minute in range(now - last + 1, now + 1)]


SYNC_SECONDS = 1.0
"""How often the background thread copies the core's counts."""


class _Syncer:
    """One daemon thread per process (started again in a forked child)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.lock = threading.Lock()

    def ensure_running(self) -> None:
        if self.pid == os.getpid():
            return
        with self.lock:
            if self.pid == os.getpid():
                return
            self.pid = os.getpid()
            thread = threading.Thread(target=self._run, name="heliograph-metrics", daemon=True)
            thread.start()

    def _run(self) -> None:
        pid = os.getpid()
        while self.pid == pid:
            time.sleep(SYNC_SECONDS)
            try:
                sync()
            except Exception:
                log.exception("could not copy the signal counts into the metrics")
                return


_syncer = _Syncer()


def start() -> None:
    """Keep the counters current in this process (cheap to call again)."""
    _syncer.ensure_running()


atexit.register(sync)


# -- delivery -------------------------------------------------------------------------


class DeliveryCollector:
    """Background-delivery gauges per receiver, read when collected.

    ``connection`` gives the database connection to read the deliveries
    from; every background subscription of a loaded plugin is reported,
    with zeros when it has nothing left to deliver.
    """

    def __init__(self, connection: c.Callable[[], t.Any]) -> None:
        self.connection = connection

    def collect(self) -> c.Iterator[Metric]:
        from heliograph.events import admin

        labels = ["receiver", "plugin", "kind"]
        gauges = {
            "backlog": GaugeMetricFamily(
                "heliograph_delivery_backlog",
                "Deliveries not yet done (pending, retrying or running).",
                labels=labels,
            ),
            "retrying": GaugeMetricFamily(
                "heliograph_delivery_retrying",
                "Deliveries that failed and wait for another attempt.",
                labels=labels,
            ),
            "dead": GaugeMetricFamily(
                "heliograph_delivery_dead",
                "Deliveries that used up their attempts (retry or discard them in /ckan-admin).",
                labels=labels,
            ),
            "oldest": GaugeMetricFamily(
                "heliograph_delivery_oldest_pending_seconds",
                "Age of the oldest delivery not yet done (0: none).",
                labels=labels,
            ),
        }
        rows: dict[tuple[str, str, str], admin.ReceiverSummary | None] = {
            (r.receiver, r.owner or "", r.kind): r for r in admin.summary(self.connection())
        }
        for sub in background.subscriptions():
            rows.setdefault((sub.path, sub.owner or "", "signal"), None)
        for (receiver, owner, kind), row in sorted(rows.items()):
            values = [receiver, owner, kind]
            gauges["backlog"].add_metric(values, row.backlog if row else 0)
            gauges["retrying"].add_metric(values, row.retrying if row else 0)
            gauges["dead"].add_metric(values, row.dead if row else 0)
            oldest = row.oldest_pending_seconds if row else None
            gauges["oldest"].add_metric(values, oldest or 0.0)
        yield from gauges.values()


# -- reading ------------------------------------------------------------------------------


class _Sources:
    def __init__(self, sources: c.Sequence[t.Any]) -> None:
        self.sources = sources

    def collect(self) -> c.Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def _process_values() -> t.Any:
    """Every process's values when several share a folder, else this one's."""
    folder = multiprocess_dir()
    if folder is None:
        return REGISTRY
    return MultiProcessCollector(None, path=folder)  # type: ignore[no-untyped-call]


def collect(*extra: t.Any) -> list[Metric]:
    """The current metrics (signal counts synced first), plus ``extra`` collectors'."""
    sync()
    return list(_Sources([_process_values(), *extra]).collect())


def exposition(*extra: t.Any) -> bytes:
    """The metrics in the Prometheus text format (:data:`CONTENT_TYPE`)."""
    sync()
    return generate_latest(_Sources([_process_values(), *extra]))
