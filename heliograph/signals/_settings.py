"""Process-wide switches of the dispatch core.

``isolate_failures`` (on by default): signals with the 'isolate' policy keep
calling receivers after one raises. Test suites turn it off so that a failing
subscriber fails the test instead of hiding in a log.

``guard_arguments`` (off by default): every receiver call is checked for
modifications of the arguments it received. It costs a snapshot per receiver
call, paid only while it is on.
"""

from __future__ import annotations

import collections.abc as c
import threading

isolate_failures: bool = True
guard_arguments: bool = False

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
    for listener in _listeners:
        listener()
    return previous
