"""Receivers are called in the order in which they were first connected."""

from __future__ import annotations

import asyncio
import random
import typing as t

from heliograph.signals import Signal

if t.TYPE_CHECKING:
    from tests.signals.signal_helpers import Calls


def test_receivers_are_called_in_connection_order(sig: Signal, calls: Calls) -> None:
    labels = [f"r{index}" for index in range(20)]
    random.Random(4).shuffle(labels)
    for label in labels:
        sig.connect(calls.receiver(label))
    sig.send("x")
    assert calls.labels == labels
    assert [result for _, result in sig.send("x")] == labels


def test_any_and_per_sender_receivers_interleave_in_connection_order(
    sig: Signal, calls: Calls
) -> None:
    sig.connect(calls.receiver("any1"))
    sig.connect(calls.receiver("a1"), "a")
    sig.connect(calls.receiver("any2"))
    sig.connect(calls.receiver("a2"), "a")
    sig.connect(calls.receiver("b1"), "b")
    sig.connect(calls.receiver("any3"))

    def order(sender: t.Any) -> list[t.Any]:
        return [result for _, result in sig.send(sender)]

    assert order("a") == ["any1", "a1", "any2", "a2", "any3"]
    assert order("b") == ["any1", "any2", "b1", "any3"]
    assert order("c") == ["any1", "any2", "any3"]


def test_connecting_again_keeps_a_receivers_first_place(sig: Signal, calls: Calls) -> None:
    first = sig.connect(calls.receiver("first"), "a")
    sig.connect(calls.receiver("second"))
    sig.connect(first)  # now also for every sender, still in first place
    assert [result for _, result in sig.send("b")] == ["first", "second"]
    assert [result for _, result in sig.send("a")] == ["first", "second"]


def test_a_receiver_disconnected_and_connected_again_goes_last(sig: Signal, calls: Calls) -> None:
    first = sig.connect(calls.receiver("first"))
    sig.connect(calls.receiver("second"))
    sig.disconnect(first)
    sig.connect(first)
    assert [result for _, result in sig.send("x")] == ["second", "first"]


def test_receivers_for_and_receiver_info_follow_the_call_order(sig: Signal, calls: Calls) -> None:
    made = [
        sig.connect(calls.receiver("x1"), "x"),
        sig.connect(calls.receiver("any")),
        sig.connect(calls.receiver("x2"), "x"),
    ]
    assert list(sig.receivers_for("x")) == made
    assert [info.receiver for info in sig.receiver_info()] == made


def test_send_async_follows_the_connection_order(sig: Signal) -> None:
    seen = []
    made = []
    for index in (3, 1, 2):

        async def receiver(sender: t.Any, index: int = index, **kwargs: t.Any) -> None:
            seen.append(index)

        made.append(sig.connect(receiver, sender="s" if index == 1 else sig.ANY))
    asyncio.run(sig.send_async("s"))
    assert seen == [3, 1, 2]
