"""Background subscriptions: receivers delivered after the commit, in a worker.

A subscription entry ``{"receiver": fn, "sender": ..., "background": True}``
asks for ``fn`` to be called in a worker process, after the transaction that
sent the signal committed, at least once, in order per object. The plugin
system checks such an entry when the plugin loads (the signal must be
deliverable, the receiver importable by a dotted path, the sender filter a
JSON value) and records it here under the plugin's name; unloading removes
exactly what loading added.

For each signal with at least one background subscription, one forwarding
receiver is connected to the signal (owner :data:`OWNER`). On a send it hands
the send and the matching subscriptions to the *sink*, which the delivery
layer (:mod:`heliograph.events`) installs: it writes the event to the outbox
in the sender's transaction. Signals nobody subscribed to in the background
cost nothing.
"""

from __future__ import annotations

import collections.abc as c
import importlib
import threading
import typing as t
from dataclasses import dataclass
from types import MethodType, ModuleType

from heliograph.signals import ANY, Signal

OWNER = "heliograph.events"
"""The owner of the forwarding receivers in ``receiver_info()``."""


@dataclass(frozen=True)
class BackgroundSubscription:
    """One background receiver: its dotted path (``module:qualname``), the
    sender it is filtered by (or :data:`ANY`), the plugin that asked for it."""

    signal: Signal
    path: str
    sender: t.Any
    owner: str

    def matches(self, sender: t.Any) -> bool:
        return self.sender is ANY or self.sender == sender


Sink = c.Callable[[Signal, t.Any, dict[str, t.Any], list[BackgroundSubscription]], None]

_lock = threading.Lock()
_subscriptions: dict[Signal, tuple[BackgroundSubscription, ...]] = {}
_forwarders: dict[Signal, c.Callable[..., None]] = {}
_sink: Sink | None = None


def set_sink(sink: Sink | None) -> None:
    """Install the function that writes background events (the outbox)."""
    global _sink
    _sink = sink


def subscriptions(signal: Signal | None = None) -> list[BackgroundSubscription]:
    """The background subscriptions, of one signal or all, in subscription order."""
    if signal is not None:
        return list(_subscriptions.get(signal, ()))
    return [sub for subs in list(_subscriptions.values()) for sub in subs]


def receiver_path(receiver: object) -> str | None:
    """``module:qualname`` by which a worker imports ``receiver``, or None when
    it cannot be imported back (a lambda, a closure, a bound method of an
    object that is not a module-level name)."""
    if isinstance(receiver, MethodType):
        owner = receiver.__self__
        module = _module_of(receiver.__func__)
        if module is None:
            return None
        for name, value in vars(module).items():
            if value is owner and not name.startswith("__"):
                path = f"{module.__name__}:{name}.{receiver.__func__.__name__}"
                return path if _same(resolve_quietly(path), receiver) else None
        return None
    qualname = getattr(receiver, "__qualname__", None)
    module_name = getattr(receiver, "__module__", None)
    if not isinstance(qualname, str) or not isinstance(module_name, str):
        return None
    if "<" in qualname:  # <lambda>, <locals>
        return None
    path = f"{module_name}:{qualname}"
    return path if _same(resolve_quietly(path), receiver) else None


def resolve(path: str) -> c.Callable[..., t.Any]:
    """Import the callable named ``module:qualname`` (raises ImportError or
    AttributeError naming what is missing)."""
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        raise ImportError(f"{path!r} is not a 'module:name' path")
    target: t.Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise TypeError(f"{path!r} is not callable")
    return t.cast(c.Callable[..., t.Any], target)


def resolve_quietly(path: str) -> c.Callable[..., t.Any] | None:
    try:
        return resolve(path)
    except Exception:
        return None


def _module_of(fn: object) -> ModuleType | None:
    name = getattr(fn, "__module__", None)
    if not isinstance(name, str):
        return None
    try:
        return importlib.import_module(name)
    except Exception:
        return None


def _same(found: object, receiver: object) -> bool:
    if found is receiver:
        return True
    if isinstance(found, MethodType) and isinstance(receiver, MethodType):
        return found.__func__ is receiver.__func__ and found.__self__ is receiver.__self__
    return False


def add(subs: c.Sequence[BackgroundSubscription]) -> None:
    """Record ``subs`` and connect the forwarders they need."""
    with _lock:
        for sub in subs:
            existing = _subscriptions.get(sub.signal, ())
            if sub in existing:
                continue
            _subscriptions[sub.signal] = (*existing, sub)
            if sub.signal not in _forwarders:
                forwarder = _make_forwarder(sub.signal)
                _forwarders[sub.signal] = forwarder
                sub.signal.connect(forwarder, ANY, weak=False, owner=OWNER)


def remove(subs: c.Sequence[BackgroundSubscription]) -> None:
    """Forget ``subs``; a signal left without background subscriptions loses
    its forwarder."""
    with _lock:
        for sub in subs:
            remaining = tuple(s for s in _subscriptions.get(sub.signal, ()) if s != sub)
            if remaining:
                _subscriptions[sub.signal] = remaining
                continue
            _subscriptions.pop(sub.signal, None)
            forwarder = _forwarders.pop(sub.signal, None)
            if forwarder is not None:
                sub.signal.disconnect(forwarder, ANY, owner=OWNER)


def _make_forwarder(signal: Signal) -> c.Callable[..., None]:
    def forward_to_background(sender: t.Any, **kwargs: t.Any) -> None:
        matching = [sub for sub in _subscriptions.get(signal, ()) if sub.matches(sender)]
        if not matching:
            return
        sink = _sink
        if sink is None:
            # The delivery layer installs the sink on import; a process that
            # loaded plugins without the portal gets it on the first send.
            importlib.import_module("heliograph.events.outbox")
            sink = _sink
        if sink is None:  # pragma: no cover - the import above installs it
            raise RuntimeError("no outbox is installed for background receivers")
        sink(signal, sender, kwargs, matching)

    forward_to_background.__qualname__ = "forward_to_background"
    return forward_to_background
