"""send_async, and blinker's rules for coroutine and plain receivers."""

from __future__ import annotations

import asyncio
import collections.abc as c
import typing as t

import pytest

from heliograph.signals import NamedSignal, Signal


def run(coro: c.Coroutine[t.Any, t.Any, t.Any]) -> t.Any:
    return asyncio.run(coro)


def test_send_async_awaits_coroutine_receivers_in_order(sig: Signal) -> None:
    seen = []

    async def first(sender: t.Any, **kwargs: t.Any) -> str:
        await asyncio.sleep(0)
        seen.append(("first", sender, kwargs))
        return "one"

    async def second(sender: t.Any, **kwargs: t.Any) -> str:
        seen.append(("second", sender, kwargs))
        return "two"

    sig.connect(first)
    sig.connect(second)
    assert run(sig.send_async("s", n=1)) == [(first, "one"), (second, "two")]
    assert seen == [("first", "s", {"n": 1}), ("second", "s", {"n": 1})]


def test_send_async_respects_sender_filters(sig: Signal) -> None:
    async def only_a(sender: t.Any, **kwargs: t.Any) -> str:
        return "a"

    sig.connect(only_a, "a")
    assert run(sig.send_async("b")) == []
    assert run(sig.send_async("a")) == [(only_a, "a")]


def test_send_async_to_a_plain_receiver_without_sync_wrapper_raises(sig: Signal) -> None:
    def plain(sender: t.Any, **kwargs: t.Any) -> None:
        pass

    sig.connect(plain)
    with pytest.raises(RuntimeError, match="Cannot send to a non-coroutine function"):
        run(sig.send_async("x"))


def test_send_async_wraps_plain_receivers_with_sync_wrapper(sig: Signal) -> None:
    wrapped = []

    def plain(sender: t.Any, **kwargs: t.Any) -> str:
        return f"plain:{sender}:{kwargs['n']}"

    async def native(sender: t.Any, **kwargs: t.Any) -> str:
        return "native"

    def sync_wrapper(receiver: c.Callable[..., t.Any]) -> c.Callable[..., t.Any]:
        wrapped.append(receiver)

        async def call(sender: t.Any, **kwargs: t.Any) -> t.Any:
            return receiver(sender, **kwargs)

        return call

    sig.connect(plain)
    sig.connect(native)
    results = run(sig.send_async("s", _sync_wrapper=sync_wrapper, n=3))
    assert results == [(plain, "plain:s:3"), (native, "native")]
    assert wrapped == [plain]


def test_send_to_a_coroutine_receiver_without_async_wrapper_raises(sig: Signal) -> None:
    async def coroutine(sender: t.Any, **kwargs: t.Any) -> None:
        pass

    sig.connect(coroutine)
    with pytest.raises(RuntimeError, match="Cannot send to a coroutine function"):
        sig.send("x")


def test_send_to_a_coroutine_receiver_raises_even_under_isolate(
    isolating: NamedSignal,
) -> None:
    async def coroutine(sender: t.Any, **kwargs: t.Any) -> None:
        pass

    isolating.connect(coroutine)
    with pytest.raises(RuntimeError, match="Cannot send to a coroutine function"):
        isolating.send("x")


def test_send_runs_coroutine_receivers_through_async_wrapper(sig: Signal) -> None:
    async def coroutine(sender: t.Any, **kwargs: t.Any) -> str:
        return f"co:{sender}:{kwargs['n']}"

    def plain(sender: t.Any, **kwargs: t.Any) -> str:
        return "plain"

    def async_wrapper(receiver: c.Callable[..., t.Any]) -> c.Callable[..., t.Any]:
        def call(sender: t.Any, **kwargs: t.Any) -> t.Any:
            return asyncio.run(receiver(sender, **kwargs))

        return call

    sig.connect(coroutine)
    sig.connect(plain)
    assert sig.send("s", _async_wrapper=async_wrapper, n=2) == [
        (coroutine, "co:s:2"),
        (plain, "plain"),
    ]


def test_an_async_bound_method_is_awaited_and_weakly_held(sig: Signal) -> None:
    class Listener:
        async def on_signal(self, sender: t.Any, **kwargs: t.Any) -> str:
            return "listener"

    listener = Listener()
    sig.connect(listener.on_signal)
    assert [value for _, value in run(sig.send_async("x"))] == ["listener"]
    del listener
    assert run(sig.send_async("x")) == []


def test_send_async_on_a_muted_signal_calls_nobody(sig: Signal) -> None:
    called = []

    async def coroutine(sender: t.Any, **kwargs: t.Any) -> None:
        called.append(sender)

    sig.connect(coroutine)
    with sig.muted():
        assert run(sig.send_async("x")) == []
    assert called == []


def test_send_async_under_isolate_awaits_every_receiver_and_returns_the_error(
    isolating: NamedSignal, caplog: pytest.LogCaptureFixture
) -> None:
    error = ValueError("async failure")

    async def failing(sender: t.Any, **kwargs: t.Any) -> None:
        raise error

    async def fine(sender: t.Any, **kwargs: t.Any) -> str:
        return "fine"

    isolating.connect(failing)
    isolating.connect(fine)
    assert run(isolating.send_async("x")) == [(failing, error), (fine, "fine")]
    assert isolating.stats().failed == 1
    assert "async failure" in caplog.text


def test_send_async_under_raise_propagates_the_receivers_error(sig: Signal) -> None:
    async def failing(sender: t.Any, **kwargs: t.Any) -> None:
        raise ValueError("async failure")

    sig.connect(failing)
    with pytest.raises(ValueError, match="async failure"):
        run(sig.send_async("x"))
