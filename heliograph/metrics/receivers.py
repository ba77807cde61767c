"""Receiver timing: the dispatch core's receiver observer, feeding the
``heliograph_receiver_duration_seconds`` histogram and, with tracing on, one
OpenTelemetry span per receiver call.

:func:`install` sets the observer (``heliograph.signals.set_receiver_observer``)
when receiver timing or tracing is on, and takes it away when both are off,
so that sends are not timed at all then; with tracing, it sets the send
observer too (``heliograph.signals.set_send_observer``: a span per send).
Each receiver's labels (signal, receiver, plugin) are looked up once and
cached; the cache forgets everything when plugins are loaded or unloaded.
"""

from __future__ import annotations

import collections.abc as c
import threading
import typing as t
import weakref
from types import MethodType

from heliograph import signals as core
from heliograph.metrics import RECEIVER_SECONDS, owner_label, receiver_name, signal_label
from heliograph.metrics.catalog import set_receiver_timing

__all__ = ["ReceiverObserver", "install", "labels_of"]

CACHE_LIMIT = 10_000
"""Receivers whose labels are kept; past this the cache starts afresh."""

Labels = tuple[str, str, str]


def _identity(receiver: t.Any) -> tuple[c.Hashable, t.Any]:
    """A key for ``receiver`` and the object whose life the key depends on."""
    if type(receiver) is MethodType:
        return (id(receiver.__func__), id(receiver.__self__)), receiver.__self__
    return id(receiver), receiver


def labels_of(signal: core.Signal, receiver: t.Any) -> Labels:
    """``(signal, receiver, plugin)`` labels of one receiver of ``signal``."""
    return (
        signal_label(signal),
        receiver_name(receiver),
        owner_label(signal.owners_of(receiver)),
    )


class ReceiverObserver:
    """Called by the dispatch core after every receiver call."""

    def __init__(self, *, timing: bool, spans: c.Callable[..., None] | None = None) -> None:
        self.timing = timing
        self.spans = spans
        self._cache: dict[tuple[int, c.Hashable], tuple[t.Any, t.Any, Labels]] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._cache = {}

    def _entry(self, signal: core.Signal, receiver: t.Any) -> tuple[t.Any, Labels]:
        key, alive = _identity(receiver)
        cache_key = (id(signal), key)
        found = self._cache.get(cache_key)
        if found is not None:
            ref, child, labels = found
            if ref() is alive:
                return child, labels
        labels = labels_of(signal, receiver)
        child = RECEIVER_SECONDS.labels(*labels) if self.timing else None
        try:
            ref = weakref.ref(alive)
        except TypeError:  # a builtin: lives as long as the process

            def ref(alive: t.Any = alive) -> t.Any:
                return alive

        with self._lock:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache = {}
            self._cache[cache_key] = (ref, child, labels)
        return child, labels

    def __call__(
        self,
        signal: core.Signal,
        receiver: t.Any,
        seconds: float,
        exception: BaseException | None,
    ) -> None:
        child, labels = self._entry(signal, receiver)
        if child is not None:
            child.observe(seconds)
        if self.spans is not None:
            self.spans(labels, seconds, exception)


_installed: dict[str, ReceiverObserver | None] = {"observer": None}


def _plugins_changed(_sender: t.Any, **_kwargs: t.Any) -> None:
    observer = _installed["observer"]
    if observer is not None:
        observer.forget()


def _follow_plugins() -> None:
    from heliograph.plugins import plugins_changed

    plugins_changed.connect(_plugins_changed, weak=False)


_follow_plugins()


def install(
    *,
    timing: bool,
    spans: c.Callable[..., None] | None = None,
    sends: c.Callable[[t.Any, t.Any, c.Mapping[str, t.Any]], t.Any] | None = None,
) -> None:
    """Time receiver calls (``timing``) and/or hand each to ``spans``, and
    open ``sends`` around each send; with none of them, no observer is set
    and sends are neither timed nor observed."""
    set_receiver_timing(timing)
    core.set_send_observer(sends)
    if not timing and spans is None:
        _installed["observer"] = None
        core.set_receiver_observer(None)
        return
    observer = ReceiverObserver(timing=timing, spans=spans)
    _installed["observer"] = observer
    core.set_receiver_observer(observer)


def installed() -> ReceiverObserver | None:
    """The observer :func:`install` set, if any."""
    return _installed["observer"]
