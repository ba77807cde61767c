"""heliograph's dispatch core: blinker's public API, faster and safer.

Standard library only. See :class:`Signal` for the semantics a caller can rely on.
"""

from __future__ import annotations

import collections.abc as c
import typing as t
from contextlib import contextmanager

from heliograph.signals import _settings
from heliograph.signals._utilities import ANY, Symbol
from heliograph.signals.base import (
    ISOLATE,
    POLICIES,
    RAISE,
    NamedSignal,
    Namespace,
    ReceiverInfo,
    SendObserver,
    Signal,
    SignalStats,
    _observer_failures_logged,
    default_namespace,
    receiver_failed,
    signal,
)
from heliograph.signals.contract import Contract
from heliograph.signals.guard import SignalArgumentMutated

__all__ = [
    "ANY",
    "Contract",
    "ISOLATE",
    "POLICIES",
    "RAISE",
    "NamedSignal",
    "Namespace",
    "ReceiverInfo",
    "SendObserver",
    "Signal",
    "SignalArgumentMutated",
    "SignalStats",
    "Symbol",
    "default_namespace",
    "guard_arguments",
    "isolate_failures",
    "receiver_failed",
    "set_receiver_observer",
    "set_send_observer",
    "settings",
    "signal",
    "strict",
]


def isolate_failures(enabled: bool) -> bool:
    """Switch the 'isolate' policy on (the default) or turn it into 'raise'
    for every signal. Returns the previous value."""
    return _settings.update(isolate=enabled)[0]


def guard_arguments(enabled: bool) -> bool:
    """Switch the argument guard on or off for every signal. Returns the previous value."""
    return _settings.update(guard=enabled)[1]


def set_receiver_observer(
    observer: c.Callable[[Signal, c.Callable[..., t.Any], float, BaseException | None], None]
    | None,
) -> None:
    """Have ``observer`` told about every receiver call of every signal (None: nobody).

    Each call made by :meth:`Signal.send`, :meth:`Signal.send_async` or any
    other sending path is timed with :func:`time.perf_counter`, and after it
    ``observer(signal, receiver, seconds, exception)`` is called, ``exception``
    being what the receiver raised (before the error policy applies) or None.
    An observer that raises never breaks the send: its first failure is
    logged. Without an observer sends are not timed and cost nothing extra.
    """
    _settings.set_observer(observer)
    _observer_failures_logged.discard(id(observer))


def set_send_observer(
    observer: SendObserver | None,
) -> None:
    """Have ``observer`` open a context around every send of every signal (None: nobody).

    At the start of each :meth:`Signal.send` or :meth:`Signal.send_async`
    (unless the signal is muted), ``observer(signal, sender, kwargs)`` is
    called; the context manager it returns (or None: nothing for this send)
    is entered before the first receiver is called and exited after the
    last, with the exception when one propagates out of the send. ``kwargs``
    is the send's keyword arguments, to read, not to change. A trace span
    per send is the use: the receivers' own spans, and anything they trace,
    nest under it. An observer (or its context) that raises never breaks
    the send: its first failure is logged, and what its ``__exit__``
    returns is ignored (it cannot swallow a receiver's exception). Without
    an observer sends cost nothing extra; with one, every send takes the
    checked path instead of the generated one.
    """
    _settings.set_send_observer(observer)
    _observer_failures_logged.discard(id(observer))


def settings() -> dict[str, t.Any]:
    """The current switches: ``{'isolate_failures': ..., 'guard_arguments': ...,
    'receiver_observer': ..., 'send_observer': ...}`` (the observers, or None)."""
    return {
        "isolate_failures": _settings.isolate_failures,
        "guard_arguments": _settings.guard_arguments,
        "receiver_observer": _settings.receiver_observer,
        "send_observer": _settings.send_observer,
    }


@contextmanager
def strict(*, raise_failures: bool = True, guard: bool = True) -> c.Iterator[None]:
    """For test suites: failures raise and the argument guard is on, inside the block."""
    previous = _settings.update(isolate=not raise_failures if raise_failures else None, guard=guard)
    try:
        yield
    finally:
        _settings.update(isolate=previous[0], guard=previous[1])
