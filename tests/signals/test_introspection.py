"""Introspection: send and failure counters, and the receivers with their connections."""

from __future__ import annotations

import asyncio
import typing as t

from heliograph.signals import ANY, Contract, NamedSignal, Signal, SignalStats

if t.TYPE_CHECKING:
    from tests.signals.signal_helpers import Calls


class Sender:
    def __repr__(self) -> str:
        return "<the sender object>"


def test_stats_counts_every_send_even_without_receivers(sig: Signal) -> None:
    assert sig.stats() == SignalStats(sent=0, failed=0)
    sig.send()
    sig.send("x", a=1)
    assert sig.stats().sent == 2


def test_stats_counts_sends_on_every_path(sig: Signal, calls: Calls) -> None:
    sig.connect(calls.receiver("any"))
    sig.send("a")  # every receiver takes any sender
    sig.connect(calls.receiver("only_a"), "a")
    sig.send("a")  # routed by sender
    sig.send("b")
    asyncio.run(sig.send_async("b", _sync_wrapper=_to_async))
    assert sig.stats().sent == 4


def _to_async(receiver: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    async def call(sender: t.Any, **kwargs: t.Any) -> t.Any:
        return receiver(sender, **kwargs)

    return call


def test_reading_stats_does_not_change_them(sig: Signal) -> None:
    sig.send()
    assert sig.stats() == sig.stats() == SignalStats(sent=1, failed=0)
    sig.send()
    assert sig.stats().sent == 2


def test_receiver_info_describes_each_receiver_in_call_order(sig: Signal, calls: Calls) -> None:
    sender = Sender()
    everyone = sig.connect(calls.receiver("everyone"), weak=False)
    by_value = sig.connect(calls.receiver("by_value"), "dataset", owner="plugin_x")
    sig.connect(by_value, 42, owner="plugin_x")
    by_object = sig.connect(calls.receiver("by_object"), sender)

    info = sig.receiver_info()
    assert [i.receiver for i in info] == [everyone, by_value, by_object]
    assert [i.name for i in info] == [
        f"{everyone.__module__}.receiver_everyone",
        f"{by_value.__module__}.receiver_by_value",
        f"{by_object.__module__}.receiver_by_object",
    ]
    assert [i.senders for i in info] == [(ANY,), ("dataset", 42), ("<the sender object>",)]
    assert [i.owners for i in info] == [(None,), ("plugin_x",), (None,)]
    assert [i.weak for i in info] == [False, True, True]
    assert [i.failures for i in info] == [0, 0, 0]


def test_receiver_info_names_bound_methods_by_class(sig: Signal) -> None:
    class Listener:
        def on_signal(self, sender: t.Any, **kwargs: t.Any) -> None:
            pass

    listener = Listener()
    sig.connect(listener.on_signal)
    assert sig.receiver_info()[0].name.endswith("Listener.on_signal")


def test_receiver_info_is_empty_for_a_signal_without_receivers(sig: Signal) -> None:
    assert sig.receiver_info() == []


def test_a_named_signal_without_contract_has_none() -> None:
    assert NamedSignal("plain").contract is None


def test_a_contract_renders_the_signature_as_the_specification_writes_it() -> None:
    contract = Contract(
        sent_when="When it happens.",
        sender="the app",
        arguments={"response": "the response", "user": "the user"},
    )
    assert contract.signature() == "(sender, response, user)"
    assert Contract("x", "y").signature() == "(sender)"


def test_a_contract_tells_missing_and_unexpected_arguments() -> None:
    contract = Contract("x", "y", arguments={"context": "", "result": ""})
    assert contract.missing_arguments({"context": 1}) == ["result"]
    assert contract.unexpected_arguments({"context": 1, "extra": 2}) == ["extra"]
    assert contract.missing_arguments({"context": 1, "result": None}) == []


def test_a_contract_docstring_says_when_who_and_which_arguments() -> None:
    doc = Contract("After X.", "the app", arguments={"user": "the user"}).docstring()
    assert "After X." in doc
    assert "Sender: the app." in doc
    assert "``user``: the user" in doc
    assert "No keyword arguments." in Contract("After X.", "the app").docstring()
