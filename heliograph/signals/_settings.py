"""Process-wide switches of the dispatch core.

``isolate_failures`` (on by default): signals with the 'isolate' policy keep
calling receivers after one raises. Test suites turn it off so that a failing
subscriber fails the test instead of hiding in a log.

``guard_arguments`` (off by default): every receiver call is checked for
modifications of the arguments it received. It costs a snapshot per receiver
call, paid only while it is on.

``receiver_observer`` (None by default): a callable told about every receiver
call, with its duration. Timing costs two clock reads and the observer's call
per receiver call, paid only while one is set.

``send_observer`` (None by default): a callable called at the start of every
send, ``send_observer(signal, sender, kwargs)``, returning a context manager
(or None) that is entered around the calls of that send's receivers: a trace
span per send. While one is set, sends take the checked path.
"""

from __future__ import annotations

import collections.abc as c
import threading
import typing as t
from contextlib import AbstractContextManager

isolate_failures: bool = True
guard_arguments: bool = False
receiver_observer: c.Callable[[t.Any, t.Any, float, BaseException | None], None] | None = None
SendObserver = c.Callable[
    [t.Any, t.Any, c.Mapping[str, t.Any]], AbstractContextManager[t.Any] | None
]
send_observer: SendObserver | None = None
observed: bool = False
"""Whether each receiver call needs a check: the guard or an observer is on."""

_listeners: list[c.Callable[[], None]] = []
_lock = threading.Lock()


def on_change(listener: c.Callable[[], None]) -> None:
    """Call ``listener`` after any switch changes."""
    _listeners.append(listener)


def update(*, isolate: bool | None = None, guard: bool | None = None) -> tuple[bool, bool]:
    """Set the switches given; return the previous ``(isolate, guard)``."""
    global isolate_failures, guard_arguments
    with _lock:
        previous = (isolate_failures, guard_arguments)
        if isolate is not None:
            isolate_failures = bool(isolate)
        if guard is not None:
            guard_arguments = bool(guard)
    _changed()
    return previous


def set_observer(
    observer: c.Callable[[t.Any, t.Any, float, BaseException | None], None] | None,
) -> None:
    """Set the receiver observer (None: no timing)."""
    global receiver_observer
    if observer is not None and not callable(observer):
        raise TypeError(f"a receiver observer must be callable or None, not {observer!r}")
    with _lock:
        receiver_observer = observer
    _changed()


def set_send_observer(observer: SendObserver | None) -> None:
    """Set the send observer (None: sends are not observed)."""
    global send_observer
    if observer is not None and not callable(observer):
        raise TypeError(f"a send observer must be callable or None, not {observer!r}")
    with _lock:
        send_observer = observer
    _changed()


def _changed() -> None:
    global observed
    observed = guard_arguments or receiver_observer is not None or send_observer is not None
    for listener in _listeners:
        listener()
