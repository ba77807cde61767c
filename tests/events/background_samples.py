"""Background receivers and plugins for the delivery tests.

Receivers are module-level functions, so a worker imports them by their
dotted path (``tests.events.background_samples:record``); what they saw is kept in
:data:`RECEIVED`, and :data:`FAIL` makes one fail a number of times per key.
"""

from __future__ import annotations

import collections.abc as c
import os
import typing as t

import heliograph.plugins as p
import heliograph.plugins.toolkit as tk

RECEIVED: list[dict[str, t.Any]] = []
FAIL: dict[str, int] = {}
"""Ordering key -> how many more times :func:`flaky` fails for it."""

custom = tk.signals.ckanext.signal("test_events_custom")


def _seen(name: str, sender: t.Any, kwargs: dict[str, t.Any]) -> None:
    event = tk.current_event()
    RECEIVED.append({"receiver": name, "sender": sender, "kwargs": kwargs, "event": event})


def record(sender: t.Any, **kwargs: t.Any) -> None:
    _seen("record", sender, kwargs)


def other(sender: t.Any, **kwargs: t.Any) -> None:
    _seen("other", sender, kwargs)


def flaky(sender: t.Any, **kwargs: t.Any) -> None:
    event = tk.current_event()
    assert event is not None
    if FAIL.get(event.key, 0) > 0:
        FAIL[event.key] -= 1
        raise RuntimeError(f"flaky fails for {event.key}")
    _seen("flaky", sender, kwargs)


def always_fails(sender: t.Any, **kwargs: t.Any) -> None:
    raise RuntimeError("always fails")


def append_line(path: str, text: str) -> None:
    """A job: append ``text`` to the file ``path``."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text + "\n")


def file_recorder(sender: t.Any, **kwargs: t.Any) -> None:
    """For worker processes: one line per delivery into $EVENTS_RECORD."""
    event = tk.current_event()
    assert event is not None
    seq = (kwargs.get("result") or {}).get("seq")
    line = f"{event.event_id} {event.key} {event.attempt} {os.getpid()} {seq}\n"
    fd = os.open(os.environ["EVENTS_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)
    delay = float(os.environ.get("EVENTS_DELAY", "0"))
    if delay:
        import time

        time.sleep(delay)


def subscription_plugin(mapping: c.Callable[[], t.Any]) -> type[p.SingletonPlugin]:
    class Made(p.SingletonPlugin):
        p.implements(p.ISignal)

        def get_signal_subscriptions(self) -> t.Any:
            return mapping()

    return Made


Updates = subscription_plugin(
    lambda: {
        tk.signals.action_succeeded: [
            {"receiver": record, "sender": "package_update", "background": True},
            {"receiver": flaky, "sender": "package_update", "background": True},
        ]
    }
)

Everything = subscription_plugin(
    lambda: {
        tk.signals.action_succeeded: [{"receiver": record, "background": True}],
        tk.signals.failed_login: [{"receiver": record, "background": True}],
        tk.signals.user_logged_in: [{"receiver": record, "background": True}],
        custom: [{"receiver": record, "background": True}],
    }
)

Failing = subscription_plugin(
    lambda: {
        tk.signals.action_succeeded: [
            {"receiver": always_fails, "sender": "package_update", "background": True},
            {"receiver": other, "sender": "package_update", "background": True},
        ]
    }
)

FileRecorder = subscription_plugin(
    lambda: {
        tk.signals.action_succeeded: [
            {"receiver": file_recorder, "sender": "package_patch", "background": True}
        ]
    }
)


JOB_CALLS: list[tuple[str, int]] = []
JOB_FAILS: dict[str, int] = {}


def keyed_job(name: str) -> None:
    """A job that fails JOB_FAILS[name] times, raising RetryLater(60) when asked."""
    event = tk.current_event()
    assert event is not None
    if JOB_FAILS.get(name, 0) > 0:
        JOB_FAILS[name] -= 1
        if name.startswith("later"):
            raise tk.RetryLater(60)
        raise RuntimeError(f"{name} fails")
    JOB_CALLS.append((name, event.attempt))
