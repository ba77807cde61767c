"""The receiver observer: every receiver call timed and reported, on every
sending path, without ever breaking a send."""

from __future__ import annotations

import asyncio
import collections.abc as c
import logging
import typing as t

import pytest

from heliograph import signals
from heliograph.signals import ISOLATE, RAISE, Signal, set_receiver_observer

Seen = list[tuple[t.Any, t.Any, float, "BaseException | None"]]


@pytest.fixture
def seen() -> c.Iterator[Seen]:
    """Every observation, while an observer that records them is set."""
    observed: Seen = []

    def observer(signal: t.Any, receiver: t.Any, seconds: float, error: t.Any) -> None:
        observed.append((signal, receiver, seconds, error))

    set_receiver_observer(observer)
    try:
        yield observed
    finally:
        set_receiver_observer(None)


def ok(sender: t.Any, **kwargs: t.Any) -> str:
    return "ok"


def other(sender: t.Any, **kwargs: t.Any) -> str:
    return "other"


class Boom(Exception):
    pass


def boom(sender: t.Any, **kwargs: t.Any) -> None:
    raise Boom("boom")


def test_settings_report_the_observer_and_none_by_default() -> None:
    assert signals.settings()["receiver_observer"] is None

    def observer(*args: t.Any) -> None:
        pass

    set_receiver_observer(observer)
    try:
        assert signals.settings()["receiver_observer"] is observer
    finally:
        set_receiver_observer(None)
    assert signals.settings()["receiver_observer"] is None


def test_something_not_callable_is_refused() -> None:
    with pytest.raises(TypeError, match="receiver observer must be callable"):
        set_receiver_observer(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("receivers", [1, 5, 12], ids=["one", "straight-line", "looped"])
@pytest.mark.parametrize("kwargs", [{}, {"user": "u", "data": 1}, {"odd-name": 1}])
def test_every_receiver_call_is_reported_in_order_on_every_send(
    seen: Seen, receivers: int, kwargs: dict[str, t.Any]
) -> None:
    sig = Signal()
    connected = [sig.connect(ok if i % 2 else other) for i in range(min(receivers, 2))]
    extra = [_fresh() for _ in range(receivers - len(connected))]
    for receiver in extra:
        sig.connect(receiver)
    everyone = connected + extra
    for _ in range(4):  # generic, then generated sends
        seen.clear()
        results = sig.send("s", **kwargs)
        assert [r for r, _ in results] == everyone
        assert [(s, r, e) for s, r, _, e in seen] == [(sig, r, None) for r in everyone]
        assert all(isinstance(seconds, float) and seconds >= 0 for _, _, seconds, _ in seen)


def test_receivers_filtered_by_sender_are_reported(seen: Seen) -> None:
    sig = Signal()
    sig.connect(ok, sender="a")
    sig.connect(other)
    sig.send("a", n=1)
    sig.send("b", n=1)
    assert [r for _, r, _, _ in seen] == [ok, other, other]


@pytest.mark.parametrize("policy", [RAISE, ISOLATE])
def test_a_failing_receiver_is_reported_with_its_exception_before_the_policy(
    seen: Seen, policy: str, caplog: pytest.LogCaptureFixture
) -> None:
    sig = Signal(policy=policy)
    sig.connect(ok)
    sig.connect(boom)
    sig.connect(other)
    for _ in range(3):
        seen.clear()
        if policy == RAISE:
            with pytest.raises(Boom):
                sig.send("s", n=1)
            assert [r for _, r, _, _ in seen] == [ok, boom]
        else:
            sig.send("s", n=1)
            # (receivers of receiver_failed, if any, are reported too: skipped here)
            assert [r for s, r, _, _ in seen if s is sig] == [ok, boom, other]
        assert isinstance(seen[1][3], Boom)
        assert seen[0][3] is None


def test_a_base_exception_is_reported_and_goes_on(seen: Seen) -> None:
    sig = Signal(policy=ISOLATE)

    def interrupted(sender: t.Any, **kwargs: t.Any) -> None:
        raise KeyboardInterrupt

    sig.connect(interrupted)
    with pytest.raises(KeyboardInterrupt):
        sig.send("s")
    assert isinstance(seen[0][3], KeyboardInterrupt)


def test_a_failing_observer_never_breaks_a_send_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = []

    def broken_observer(*args: t.Any) -> None:
        calls.append(args[1])
        raise RuntimeError("observer broke")

    sig = Signal()
    sig.connect(ok)
    sig.connect(other)
    set_receiver_observer(broken_observer)
    try:
        with caplog.at_level(logging.ERROR, logger="heliograph.signals.base"):
            for _ in range(4):
                assert [value for _, value in sig.send("s", n=1)] == ["ok", "other"]
            with pytest.raises(Boom), sig.connected_to(boom):
                sig.send("s", n=1)
    finally:
        set_receiver_observer(None)
    assert calls[:8] == [ok, other] * 4
    assert calls[-1] is boom
    failures = [r for r in caplog.records if "observer" in r.getMessage()]
    assert len(failures) == 1
    assert "broken_observer" in failures[0].getMessage()


def test_send_async_reports_awaited_and_wrapped_receivers(seen: Seen) -> None:
    sig = Signal(policy=ISOLATE)

    async def native(sender: t.Any, **kwargs: t.Any) -> str:
        return "native"

    async def failing(sender: t.Any, **kwargs: t.Any) -> None:
        raise Boom("async boom")

    def wrap(receiver: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        async def call(sender: t.Any, **kwargs: t.Any) -> t.Any:
            return receiver(sender, **kwargs)

        return call

    sig.connect(native)
    sig.connect(failing)
    sig.connect(ok)
    results = asyncio.run(sig.send_async("s", _sync_wrapper=wrap, n=1))
    assert [value if not isinstance(value, Boom) else "boom" for _, value in results] == [
        "native",
        "boom",
        "ok",
    ]
    assert [(r, type(e).__name__) for s, r, _, e in seen if s is sig] == [
        (native, "NoneType"),
        (failing, "Boom"),
        (ok, "NoneType"),
    ]


def test_without_an_observer_nothing_is_reported_and_sends_are_unchanged() -> None:
    observed: list[t.Any] = []
    sig = Signal()
    sig.connect(ok)
    set_receiver_observer(lambda *args: observed.append(args))
    set_receiver_observer(None)
    for _ in range(3):
        assert sig.send("s", n=1) == [(ok, "ok")]
    assert observed == []


def _fresh() -> t.Callable[..., str]:
    def receiver(sender: t.Any, **kwargs: t.Any) -> str:
        return "fresh"

    _kept.append(receiver)
    return receiver


_kept: list[t.Any] = []
