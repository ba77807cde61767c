"""Sender matching, weak and strong references, duplicate connections."""

from __future__ import annotations

import gc
import typing as t

import pytest

from heliograph.signals import ANY, Signal

if t.TYPE_CHECKING:
    from tests.signals.signal_helpers import Calls


class Thing:
    """A sender or receiver owner compared by identity."""

    def __init__(self, label: str = "") -> None:
        self.label = label
        self.seen: list[t.Any] = []

    def on_signal(self, sender: t.Any, **kwargs: t.Any) -> str:
        self.seen.append(sender)
        return self.label


class EqualToEverything:
    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


class Tag(str):
    pass


class Count(int):
    pass


class Unweakrefable:
    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen: list[t.Any] = []

    def __call__(self, sender: t.Any, **kwargs: t.Any) -> None:
        self.seen.append(sender)


# -- sender matching -----------------------------------------------------------


def test_str_senders_match_by_value_not_identity(sig: Signal, calls: Calls) -> None:
    connected_with = "".join(["data", "set"])
    sent_with = "".join(["datas", "et"])
    assert connected_with is not sent_with
    sig.connect(calls.receiver("r"), connected_with)
    sig.send(sent_with)
    sig.send("group")
    assert [sender for _, sender, _ in calls] == ["dataset"]


def test_int_senders_match_by_value_not_identity(sig: Signal, calls: Calls) -> None:
    big = int("1" + "0" * 30)
    same_value = int("1" + "0" * 30)
    assert big is not same_value
    sig.connect(calls.receiver("r"), big)
    sig.send(same_value)
    sig.send(big + 1)
    assert len(calls) == 1


def test_str_subclass_senders_match_equal_str_values(sig: Signal, calls: Calls) -> None:
    sig.connect(calls.receiver("r"), Tag("dataset"))
    sig.send("dataset")
    sig.send(Tag("dataset"))
    sig.send(Tag("group"))
    assert len(calls) == 2


def test_int_subclass_senders_match_equal_int_values(sig: Signal, calls: Calls) -> None:
    sig.connect(calls.receiver("r"), Count(5))
    sig.send(5)
    sig.send(Count(5))
    sig.send(6)
    assert len(calls) == 2


def test_bool_senders_match_by_value(sig: Signal, calls: Calls) -> None:
    sig.connect(calls.receiver("r"), True)
    sig.send(True)
    sig.send(False)
    assert [sender for _, sender, _ in calls] == [True]


def test_other_senders_match_by_identity_not_equality(sig: Signal, calls: Calls) -> None:
    connected_with, equal_one = EqualToEverything(), EqualToEverything()
    sig.connect(calls.receiver("r"), connected_with)
    sig.send(equal_one)
    assert calls == []
    sig.send(connected_with)
    assert len(calls) == 1


def test_unhashable_senders_match_by_identity(sig: Signal, calls: Calls) -> None:
    connected_with: list[int] = [1, 2]
    sig.connect(calls.receiver("r"), connected_with)
    sig.send([1, 2])
    sig.send(connected_with)
    assert [sender for _, sender, _ in calls] == [connected_with]
    assert calls[0][1] is connected_with


def test_a_str_sender_does_not_match_an_equal_looking_object(sig: Signal, calls: Calls) -> None:
    sig.connect(calls.receiver("r"), "1")
    sig.send(1)
    sig.send(1.0)
    assert calls == []


# -- duplicates ----------------------------------------------------------------


def test_a_receiver_connected_twice_for_the_same_sender_is_called_once(
    sig: Signal, calls: Calls
) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver, "a")
    sig.connect(receiver, "a")
    sig.connect(receiver)
    sig.connect(receiver)
    assert sig.send("a") == [(receiver, "r")]
    assert sig.send("b") == [(receiver, "r")]


def test_a_receiver_connected_for_any_and_a_sender_is_called_once_for_that_sender(
    sig: Signal, calls: Calls
) -> None:
    receiver = calls.receiver("r")
    sig.connect(receiver, "a")
    sig.connect(receiver)
    sig.send("a")
    assert calls.labels == ["r"]


def test_the_same_bound_method_connected_twice_is_called_once(sig: Signal) -> None:
    thing = Thing("t")
    sig.connect(thing.on_signal)
    sig.connect(thing.on_signal)
    sig.send("x")
    assert thing.seen == ["x"]


def test_bound_methods_of_different_instances_are_different_receivers(sig: Signal) -> None:
    one, two = Thing("one"), Thing("two")
    sig.connect(one.on_signal)
    sig.connect(two.on_signal)
    assert [result for _, result in sig.send("x")] == ["one", "two"]


# -- weak and strong receivers -------------------------------------------------


def _connect_local_function(sig: Signal, seen: list[t.Any], weak: bool) -> None:
    def local(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append(sender)

    sig.connect(local, weak=weak)


def test_a_weak_function_receiver_disappears_when_collected(sig: Signal) -> None:
    seen: list[t.Any] = []
    _connect_local_function(sig, seen, weak=True)
    gc.collect()
    assert sig.send("x") == []
    assert seen == []
    assert not sig.receivers
    assert sig.receiver_info() == []


def test_a_strong_function_receiver_stays_after_its_scope_ends(sig: Signal) -> None:
    seen: list[t.Any] = []
    _connect_local_function(sig, seen, weak=False)
    gc.collect()
    sig.send("x")
    assert seen == ["x"]


def test_a_weak_closure_disappears_when_its_last_reference_goes(sig: Signal) -> None:
    seen: list[t.Any] = []
    prefix = "p"

    def closure(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append(prefix + sender)

    sig.connect(closure)
    sig.send("1")
    del closure
    sig.send("2")
    assert seen == ["p1"]
    assert not sig.has_receivers_for("2")


def test_a_weak_bound_method_stays_connected_while_its_instance_lives(sig: Signal) -> None:
    thing = Thing()
    sig.connect(thing.on_signal)  # the bound method object itself is temporary
    gc.collect()
    sig.send("x")
    assert thing.seen == ["x"]


def test_a_weak_bound_method_disappears_when_its_instance_is_collected(sig: Signal) -> None:
    thing = Thing()
    seen = thing.seen
    sig.connect(thing.on_signal)
    del thing
    gc.collect()
    assert sig.send("x") == []
    assert seen == []
    assert not sig.receivers


def test_a_strong_bound_method_keeps_its_instance_alive(sig: Signal) -> None:
    thing = Thing()
    seen = thing.seen
    sig.connect(thing.on_signal, weak=False)
    del thing
    gc.collect()
    sig.send("x")
    assert seen == ["x"]


def test_a_receiver_that_cannot_be_weakly_referenced_is_held_strongly(sig: Signal) -> None:
    receiver = Unweakrefable()
    seen = receiver.seen
    sig.connect(receiver)
    del receiver
    gc.collect()
    sig.send("x")
    assert seen == ["x"]


def test_a_receiver_is_held_strongly_while_any_connection_asks_for_it(sig: Signal) -> None:
    seen: list[t.Any] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        seen.append(sender)

    sig.connect(receiver, "a", weak=True)
    sig.connect(receiver, "b", weak=False)
    del receiver
    gc.collect()
    sig.send("a")
    assert seen == ["a"]

    (info,) = sig.receiver_info()
    assert not info.weak
    sig.disconnect(info.receiver, "b")
    del info
    gc.collect()
    sig.send("a")
    assert seen == ["a"]
    assert not sig.receivers


def test_a_collected_weak_receiver_leaves_the_others_in_place(sig: Signal, calls: Calls) -> None:
    thing = Thing("t")
    sig.connect(calls.receiver("before"))
    sig.connect(thing.on_signal)
    sig.connect(calls.receiver("after"), "a")
    del thing
    gc.collect()
    assert [result for _, result in sig.send("a")] == ["before", "after"]


# -- weak senders ----------------------------------------------------------------


def test_a_collected_sender_object_drops_its_connections(sig: Signal, calls: Calls) -> None:
    sender = Thing()
    sig.connect(calls.receiver("r"), sender)
    assert sig.has_receivers_for(sender)
    del sender
    gc.collect()
    assert not sig.receivers
    assert sig.receiver_info() == []
    # New objects may reuse the collected one's id: they must not match.
    for _ in range(50):
        sig.send(Thing())
    assert calls == []


def test_a_collected_sender_leaves_the_receivers_other_connections(
    sig: Signal, calls: Calls
) -> None:
    sender = Thing()
    receiver = calls.receiver("r")
    sig.connect(receiver, sender)
    sig.connect(receiver, "kept")
    del sender
    gc.collect()
    sig.send("kept")
    assert calls.labels == ["r"]
    assert sig.receiver_info()[0].senders == ("kept",)


def test_a_bound_method_can_be_a_sender(sig: Signal, calls: Calls) -> None:
    thing = Thing()
    sig.connect(calls.receiver("r"), thing.on_signal)
    sig.send(thing.on_signal)
    sig.send(Thing().on_signal)
    assert len(calls) == 1


# -- garbage collection inside the signal's own bookkeeping ------------------------


class Cyclic:
    """An object in a reference cycle: only the cyclic collector frees it,
    at whatever allocation it happens to run."""

    def __init__(self) -> None:
        self.me = self

    def on_signal(self, sender: t.Any, **kwargs: t.Any) -> None:
        pass


@pytest.mark.parametrize("threshold", [(700, 10, 10), (1, 1, 1)])
def test_weak_receivers_in_cycles_collected_at_any_moment_never_break_the_signal(
    sig: Signal, calls: Calls, threshold: tuple[int, int, int]
) -> None:
    kept = sig.connect(calls.receiver("kept"))
    old = gc.get_threshold()
    gc.set_threshold(*threshold)
    try:
        for index in range(300):
            sig.connect(Cyclic().on_signal)
            sig.connect(Cyclic().on_signal, sender=f"s{index % 7}")
            assert sig.receiver_info()[0].receiver is kept
            sig.disconnect(Cyclic().on_signal)
    finally:
        gc.set_threshold(*old)
    gc.collect()
    assert [info.receiver for info in sig.receiver_info()] == [kept]
    assert sig.send("s1") == [(kept, "kept")]
    assert list(sig.receivers_for(ANY)) == [kept]


def test_a_receiver_connected_where_a_collected_one_lived_is_called(sig: Signal) -> None:
    # Ids of collected receivers are reused by new ones: a new receiver must
    # never inherit (or be removed with) a dead receiver's connections.
    results = []
    for index in range(200):

        def receiver(sender: t.Any, index: int = index, **kwargs: t.Any) -> int:
            return index

        sig.connect(receiver)
        results.append([value for _, value in sig.send("x")])
        del receiver
    assert results == [[index] for index in range(200)]
