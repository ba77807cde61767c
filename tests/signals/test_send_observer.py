"""The send observer: a context opened around every send (a trace span per
send), on every sending path, that never breaks a send."""

from __future__ import annotations

import asyncio
import collections.abc as c
import logging
import typing as t
from contextlib import contextmanager

import pytest

from heliograph import signals
from heliograph.signals import ISOLATE, RAISE, Signal, set_receiver_observer, set_send_observer

Events = list[tuple[t.Any, ...]]


@pytest.fixture
def events() -> c.Iterator[Events]:
    """What happened, in order: ``("enter", signal, sender, kwargs)``, the
    receivers' own entries and ``("exit", signal, error)``, while an observer
    that records them is set."""
    happened: Events = []

    @contextmanager
    def span(signal: Signal, sender: t.Any, kwargs: c.Mapping[str, t.Any]) -> c.Iterator[None]:
        happened.append(("enter", signal, sender, dict(kwargs)))
        try:
            yield
        except BaseException as exc:
            happened.append(("exit", signal, exc))
            raise
        happened.append(("exit", signal, None))

    set_send_observer(span)
    try:
        yield happened
    finally:
        set_send_observer(None)


class Boom(Exception):
    pass


def recording(events: Events, name: str) -> c.Callable[..., str]:
    def receiver(sender: t.Any, **kwargs: t.Any) -> str:
        events.append(("call", name))
        return name

    return receiver


def test_settings_report_the_send_observer_and_none_by_default() -> None:
    assert signals.settings()["send_observer"] is None

    def observer(*args: t.Any) -> None:
        return None

    set_send_observer(observer)
    try:
        assert signals.settings()["send_observer"] is observer
    finally:
        set_send_observer(None)
    assert signals.settings()["send_observer"] is None


def test_something_not_callable_is_refused() -> None:
    with pytest.raises(TypeError, match="send observer must be callable"):
        set_send_observer(42)  # type: ignore[arg-type]


def test_every_send_is_one_context_around_all_its_receivers(events: Events) -> None:
    sig = Signal()
    first, second = recording(events, "first"), recording(events, "second")
    sig.connect(first)
    sig.connect(second)
    for _ in range(3):  # the first sends and the ones after a send is generated
        assert sig.send("me", x=1) == [(first, "first"), (second, "second")]
    assert events == 3 * [
        ("enter", sig, "me", {"x": 1}),
        ("call", "first"),
        ("call", "second"),
        ("exit", sig, None),
    ]


def test_a_send_generated_before_the_observer_is_set_is_observed_after() -> None:
    sig = Signal()
    seen: list[str] = []
    sig.connect(recording(t.cast(Events, seen), "r"), weak=False)
    for _ in range(3):
        sig.send()  # the generated send is installed by now
    entered: list[Signal] = []

    @contextmanager
    def span(signal: Signal, sender: t.Any, kwargs: t.Any) -> c.Iterator[None]:
        entered.append(signal)
        yield

    set_send_observer(span)
    try:
        sig.send()
        sig.send(y=2)
    finally:
        set_send_observer(None)
    assert entered == [sig, sig]
    sig.send()
    assert entered == [sig, sig]  # off again: not observed


def test_sends_without_receivers_and_by_sender_are_observed(events: Events) -> None:
    empty, filtered = Signal(), Signal()
    receiver = recording(events, "for a")
    filtered.connect(receiver, sender="a")
    empty.send("x")
    filtered.send("a")
    filtered.send("b")
    assert events == [
        ("enter", empty, "x", {}),
        ("exit", empty, None),
        ("enter", filtered, "a", {}),
        ("call", "for a"),
        ("exit", filtered, None),
        ("enter", filtered, "b", {}),
        ("exit", filtered, None),
    ]


def test_a_send_inside_a_receiver_nests_inside_the_outer_send(events: Events) -> None:
    outer, inner = Signal(), Signal()
    inner.connect(recording(events, "inner"), weak=False)

    def relay(sender: t.Any, **kwargs: t.Any) -> None:
        inner.send("relay")

    outer.connect(relay)
    outer.send("start")
    assert events == [
        ("enter", outer, "start", {}),
        ("enter", inner, "relay", {}),
        ("call", "inner"),
        ("exit", inner, None),
        ("exit", outer, None),
    ]


def test_a_raising_receiver_under_raise_reaches_the_context(events: Events) -> None:
    sig = Signal(policy=RAISE)
    error = Boom("boom")

    def boom(sender: t.Any, **kwargs: t.Any) -> None:
        raise error

    sig.connect(boom)
    with pytest.raises(Boom):
        sig.send()
    assert events == [("enter", sig, None, {}), ("exit", sig, error)]


def test_under_isolate_the_send_ends_normally_with_the_failure_in_its_results(
    events: Events, caplog: pytest.LogCaptureFixture
) -> None:
    sig = Signal(policy=ISOLATE)

    def boom(sender: t.Any, **kwargs: t.Any) -> None:
        raise Boom("isolated")

    sig.connect(boom)
    after = recording(events, "after")
    sig.connect(after)
    previous = signals.isolate_failures(True)
    try:
        with caplog.at_level(logging.ERROR):
            results = sig.send()
    finally:
        signals.isolate_failures(previous)
    assert isinstance(results[0][1], Boom) and results[1] == (after, "after")
    # (the failure's own receiver_failed send, when something hears it, is observed too)
    ours = [e for e in events if e[0] == "call" or e[1] is sig]
    assert ours == [("enter", sig, None, {}), ("call", "after"), ("exit", sig, None)]


def test_a_context_cannot_swallow_a_receivers_exception() -> None:
    class Swallowing:
        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc_info: object) -> bool:
            return True  # would suppress it in a with statement

    sig = Signal(policy=RAISE)

    def boom(sender: t.Any, **kwargs: t.Any) -> None:
        raise Boom("not swallowed")

    sig.connect(boom)
    set_send_observer(lambda signal, sender, kwargs: Swallowing())
    try:
        with pytest.raises(Boom, match="not swallowed"):
            sig.send()
    finally:
        set_send_observer(None)


def test_an_observer_returning_none_leaves_the_send_alone() -> None:
    sig = Signal()
    called: list[t.Any] = []
    sig.connect(lambda sender, **kwargs: called.append(kwargs) or "done", weak=False)
    set_send_observer(lambda signal, sender, kwargs: None)
    try:
        assert [value for _, value in sig.send(z=3)] == ["done"]
    finally:
        set_send_observer(None)
    assert called == [{"z": 3}]


@pytest.mark.parametrize("where", ["call", "enter", "exit"])
def test_a_failing_observer_never_breaks_a_send_and_is_logged_once(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing:
        def __enter__(self) -> None:
            if where == "enter":
                raise RuntimeError("observer enter failed")

        def __exit__(self, *exc_info: object) -> None:
            if where == "exit":
                raise RuntimeError("observer exit failed")

    def observer(signal: Signal, sender: t.Any, kwargs: t.Any) -> Failing:
        if where == "call":
            raise RuntimeError("observer call failed")
        return Failing()

    sig = Signal(policy=RAISE)
    sig.connect(lambda sender, **kwargs: "still called", weak=False)
    set_send_observer(observer)
    try:
        with caplog.at_level(logging.ERROR, logger="heliograph.signals"):
            first = sig.send()
            second = sig.send()
    finally:
        set_send_observer(None)
    assert [value for _, value in first] == ["still called"]
    assert [value for _, value in second] == ["still called"]
    failures = [r for r in caplog.records if "signal observer" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert f"observer {where} failed" in str(failures[0].exc_info[1])


def test_muted_sends_open_no_context(events: Events) -> None:
    sig = Signal()
    sig.connect(recording(events, "r"), weak=False)
    with sig.muted():
        assert sig.send() == []
        assert asyncio.run(sig.send_async()) == []
    assert events == []


def test_send_async_is_one_context_around_its_awaited_receivers(events: Events) -> None:
    sig = Signal()

    async def awaited(sender: t.Any, **kwargs: t.Any) -> str:
        events.append(("call", "awaited"))
        await asyncio.sleep(0)
        return "awaited"

    def plain(sender: t.Any, **kwargs: t.Any) -> str:
        events.append(("call", "plain"))
        return "plain"

    def wrap(receiver: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        async def wrapped(sender: t.Any, **kwargs: t.Any) -> t.Any:
            return receiver(sender, **kwargs)

        return wrapped

    sig.connect(awaited)
    sig.connect(plain)
    results = asyncio.run(sig.send_async("me", _sync_wrapper=wrap, k="v"))
    assert [value for _, value in results] == ["awaited", "plain"]
    assert events == [
        ("enter", sig, "me", {"k": "v"}),
        ("call", "awaited"),
        ("call", "plain"),
        ("exit", sig, None),
    ]


def test_send_async_passes_a_propagating_exception_to_the_context(events: Events) -> None:
    sig = Signal(policy=RAISE)
    error = Boom("async boom")

    async def boom(sender: t.Any, **kwargs: t.Any) -> None:
        raise error

    sig.connect(boom)
    with pytest.raises(Boom):
        asyncio.run(sig.send_async())
    assert events == [("enter", sig, None, {}), ("exit", sig, error)]


def test_receiver_observations_happen_inside_the_send_context(events: Events) -> None:
    sig = Signal()
    receiver = recording(events, "r")
    sig.connect(receiver)

    def observer(signal: Signal, called: t.Any, seconds: float, error: t.Any) -> None:
        events.append(("observed", called))

    set_receiver_observer(observer)
    try:
        sig.send()
    finally:
        set_receiver_observer(None)
    assert events == [
        ("enter", sig, None, {}),
        ("call", "r"),
        ("observed", receiver),
        ("exit", sig, None),
    ]


def test_connected_to_blocks_are_observed_and_put_back(events: Events) -> None:
    sig = Signal()
    kept, block = recording(events, "kept"), recording(events, "block")
    sig.connect(kept)
    with sig.connected_to(block):
        sig.send()
    sig.send()
    assert [e[1] if e[0] == "call" else e[0] for e in events] == [
        "enter",
        "kept",
        "block",
        "exit",
        "enter",
        "kept",
        "exit",
    ]
