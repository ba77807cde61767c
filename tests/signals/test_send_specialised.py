"""The send specialised for a keyword shape behaves exactly as the generic one."""

from __future__ import annotations

import functools
import gc
import sys
import typing as t
import weakref

import pytest

from heliograph.signals import ISOLATE, Signal


def recorder(log: list[tuple[str, t.Any, dict[str, t.Any]]], name: str) -> t.Callable[..., str]:
    def receiver(sender: t.Any, **kwargs: t.Any) -> str:
        log.append((name, sender, kwargs))
        return name

    return receiver


@pytest.fixture
def three() -> tuple[Signal, list[tuple[str, t.Any, dict[str, t.Any]]], list[t.Any]]:
    sig = Signal()
    log: list[tuple[str, t.Any, dict[str, t.Any]]] = []
    receivers = [recorder(log, n) for n in ("a", "b", "c")]
    for receiver in receivers:
        sig.connect(receiver)
    return sig, log, receivers


def test_receivers_get_the_keywords_in_the_callers_order(three: t.Any) -> None:
    sig, log, _ = three
    for _ in range(2):  # the second send of a shape runs the specialised loop
        log.clear()
        sig.send("s", zeta=1, alpha=2)
        assert [list(kwargs.items()) for _, _, kwargs in log] == [[("zeta", 1), ("alpha", 2)]] * 3


def test_alternating_keyword_shapes_deliver_each_sends_own_arguments(three: t.Any) -> None:
    sig, log, _ = three
    shapes: list[dict[str, t.Any]] = [{"x": 1}, {"y": 2, "z": 3}, {}, {"x": 4}, {"z": 5, "y": 6}]
    for kwargs in shapes * 2:
        log.clear()
        results = sig.send("s", **kwargs)
        assert [value for _, value in results] == ["a", "b", "c"]
        assert [got for _, _, got in log] == [kwargs] * 3
        assert [list(got) for _, _, got in log] == [list(kwargs)] * 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"not-an-identifier": 1},
        {"class": 2},
        {"_hg_sender": 3, "_hg_kwargs": 4, "_hg_v0": 5},
        {"sender_": 6, "receiver": 7, "result": 8},
    ],
)
def test_unusual_keyword_names_reach_receivers_unchanged(
    three: t.Any, kwargs: dict[str, t.Any]
) -> None:
    sig, log, _ = three
    for _ in range(2):
        log.clear()
        sig.send("who", **kwargs)
        assert log == [(n, "who", kwargs) for n in ("a", "b", "c")]


def test_every_send_is_counted_once_whatever_the_path(three: t.Any) -> None:
    sig, _, _ = three
    before = sig.stats().sent
    for kwargs in ({"a": 1}, {"a": 1}, {"b": 1}, {}, {"odd-name": 1}):
        sig.send("s", **kwargs)
    assert sig.stats().sent - before == 5


def test_isolate_keeps_calling_after_a_failure_in_the_specialised_send() -> None:
    sig = Signal(policy=ISOLATE)
    calls: list[str] = []

    def ok(sender: t.Any, **kwargs: t.Any) -> str:
        calls.append("ok")
        return "ok"

    def boom(sender: t.Any, **kwargs: t.Any) -> None:
        raise LookupError("boom")

    for receiver in (ok, boom, ok.__call__, boom.__call__):
        sig.connect(receiver)
    for _ in range(2):
        results = sig.send("s", k=1)
        assert [type(v).__name__ for _, v in results] == ["str", "LookupError"] * 2
    assert sig.stats().failed == 4


def test_raise_stops_at_the_failing_receiver_in_the_specialised_send() -> None:
    sig = Signal()
    calls: list[str] = []

    def first(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append("first")

    def boom(sender: t.Any, **kwargs: t.Any) -> None:
        raise LookupError("boom")

    def last(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append("last")

    for receiver in (first, boom, last):
        sig.connect(receiver)
    for _ in range(2):
        with pytest.raises(LookupError):
            sig.send("s", k=1)
    assert calls == ["first", "first"]


def test_a_collected_weak_receiver_is_skipped_by_the_specialised_send(three: t.Any) -> None:
    sig, log, receivers = three
    sig.send("s", k=1)
    del receivers[1]
    gc.collect()
    log.clear()
    assert [value for _, value in sig.send("s", k=1)] == ["a", "c"]


def test_the_class_method_still_sends_when_called_unbound(three: t.Any) -> None:
    sig, _log, _ = three
    assert [value for _, value in Signal.send(sig, "s", k=1)] == ["a", "b", "c"]
    assert Signal.send.__doc__ == sig.send.__doc__


def test_muting_and_connecting_take_effect_on_the_installed_send(three: t.Any) -> None:
    sig, log, _ = three
    sig.send("s", k=1)
    with sig.muted():
        assert sig.send("s", k=1) == []
    late = recorder(log, "late")
    sig.connect(late)
    assert [value for _, value in sig.send("s", k=1)] == ["a", "b", "c", "late"]
    sig.disconnect(late)
    assert [value for _, value in sig.send("s", k=1)] == ["a", "b", "c"]


@pytest.mark.parametrize("kwargs", [{"zeta": 1, "alpha": 2}, {"class": 1, "odd-name": 2}, {}])
def test_receivers_filtered_by_sender_get_the_same_keywords(kwargs: dict[str, t.Any]) -> None:
    sig = Signal(policy=ISOLATE)
    log: list[tuple[str, t.Any, dict[str, t.Any]]] = []
    receivers = [recorder(log, n) for n in ("a", "b", "c")]
    for receiver in receivers:
        sig.connect(receiver, sender="s")
    sig.connect(recorder(log, "other"), sender="t", weak=False)
    for _ in range(2):
        log.clear()
        assert [value for _, value in sig.send("s", **kwargs)] == ["a", "b", "c"]
        assert [(name, list(got.items())) for name, _, got in log] == [
            (n, list(kwargs.items())) for n in ("a", "b", "c")
        ]


@pytest.mark.parametrize("weak", [True, False], ids=["weak", "strong"])
@pytest.mark.parametrize("count", [0, 1, 4, 7, 8, 19])
def test_straight_line_and_looped_sends_agree(count: int, weak: bool) -> None:
    # up to UNROLL_MAX receivers are called in a straight line, more in a loop;
    # both keep the order, the keywords and the isolate policy, whether they
    # reach the receivers through getters (weak) or hold them (all strong)
    sig = Signal(policy=ISOLATE)
    log: list[tuple[str, t.Any, dict[str, t.Any]]] = []
    receivers = [recorder(log, str(i)) for i in range(count)]

    def boom(sender: t.Any, **kwargs: t.Any) -> None:
        raise LookupError("boom")

    for receiver in receivers[: count // 2]:
        sig.connect(receiver, weak=weak)
    sig.connect(boom, weak=weak)
    for receiver in receivers[count // 2 :]:
        sig.connect(receiver, weak=weak)
    for attempt in range(3):
        log.clear()
        results = sig.send("s", user="u", data=1)
        # the second send after a change installs the generated send, the
        # third one runs it
        assert ("send" in sig.__dict__) == (attempt > 0)
        values = [v if isinstance(v, str) else type(v).__name__ for _, v in results]
        names = [str(i) for i in range(count)]
        assert values == [*names[: count // 2], "LookupError", *names[count // 2 :]]
        assert log == [(name, "s", {"user": "u", "data": 1}) for name in names]


@pytest.mark.parametrize("extra", [0, 10], ids=["straight-line", "looped"])
def test_a_receiver_collected_during_a_send_is_left_out(extra: int) -> None:
    sig = Signal()
    log: list[tuple[str, t.Any, dict[str, t.Any]]] = []
    holder = {"later": recorder(log, "later")}

    def first(sender: t.Any, **kwargs: t.Any) -> str:
        if kwargs["k"] == 2:
            holder.clear()  # the only strong reference to "later": it dies now
            gc.collect()
        return "first"

    sig.connect(first)
    sig.connect(holder["later"])
    kept = [recorder(log, f"r{i}") for i in range(extra + 1)]
    for receiver in kept:
        sig.connect(receiver)
    sig.send("s", k=1)  # the installed send learns the keyword shape
    log.clear()
    results = sig.send("s", k=2)
    assert [value for _, value in results] == ["first", *(f"r{i}" for i in range(extra + 1))]
    assert "later" not in [name for name, _, _ in log]


def _released(ref: weakref.ref[t.Any]) -> bool:
    gc.collect()
    return ref() is None


@pytest.mark.parametrize("others", [2, 12], ids=["straight-line", "looped"])
def test_a_strong_receiver_disconnected_after_the_send_held_it_is_released(others: int) -> None:
    sig = Signal()
    log: list[tuple[str, t.Any, dict[str, t.Any]]] = []
    kept = [recorder(log, f"r{i}") for i in range(others)]
    for receiver in kept:
        sig.connect(receiver, weak=False)
    leaving = recorder(log, "leaving")
    sig.connect(leaving, weak=False)
    for _ in range(3):  # installed: it holds every receiver, "leaving" too
        sig.send("s", k=1)
    assert "direct" in sig.send.__code__.co_filename  # the send that holds its receivers
    ref = weakref.ref(leaving)
    sig.disconnect(leaving)
    del leaving
    assert _released(ref)
    log.clear()
    assert [value for _, value in sig.send("s", k=2)] == [f"r{i}" for i in range(others)]


def test_a_strong_receiver_disconnected_inside_a_connected_to_block_is_released() -> None:
    sig = Signal()
    leaving = recorder([], "leaving")
    sig.connect(leaving, weak=False)
    for _ in range(3):
        sig.send("s")
    ref = weakref.ref(leaving)

    def temporary(sender: t.Any, **kwargs: t.Any) -> str:
        return "temporary"

    with sig.connected_to(temporary):
        assert [value for _, value in sig.send("s")] == ["leaving", "temporary"]
        sig.disconnect(leaving)
        del leaving
        assert [value for _, value in sig.send("s")] == ["temporary"]
    assert _released(ref)
    assert sig.send("s") == []


def test_a_strong_receiver_connected_then_disconnected_leaves_the_earlier_send_in_place() -> None:
    # the connect publishes at once and keeps the send from before to put back
    sig = Signal()
    first = recorder([], "first")
    sig.connect(first, weak=False)
    for _ in range(3):
        sig.send("s")
    passing = recorder([], "passing")
    sig.connect(passing, weak=False)
    assert [value for _, value in sig.send("s")] == ["first", "passing"]
    ref = weakref.ref(passing)
    sig.disconnect(passing)
    del passing
    assert _released(ref)
    for _ in range(3):
        assert [value for _, value in sig.send("s")] == ["first"]
    first_ref = weakref.ref(first)
    sig.disconnect(first)
    del first
    assert _released(first_ref)


@pytest.mark.parametrize("weak", [True, False], ids=["weak", "strong"])
@pytest.mark.parametrize("before", [0, 2, 12], ids=["nobody", "straight-line", "looped"])
def test_a_send_kept_by_the_caller_follows_every_later_change(before: int, weak: bool) -> None:
    sig = Signal()
    log: list[tuple[str, t.Any, dict[str, t.Any]]] = []
    receivers = [recorder(log, f"r{i}") for i in range(before)]
    for receiver in receivers:
        sig.connect(receiver, weak=weak)
    for _ in range(3):
        sig.send("s", k=1)
    kept = sig.send  # the generated send of this table, as a caller may keep it
    partial = functools.partial(sig.send, "s")
    later = recorder(log, "later")
    sig.connect(later, weak=weak)
    names = [f"r{i}" for i in range(before)]
    assert [value for _, value in kept("s", k=2)] == [*names, "later"]
    assert [value for _, value in partial(k=3)] == [*names, "later"]
    if receivers:
        sig.disconnect(receivers[0])
    assert [value for _, value in kept("s", k=4)] == [*names[1:], "later"]
    assert [value for _, value in partial(k=5)] == [*names[1:], "later"]


def test_a_direct_send_taken_off_releases_its_receivers_without_the_collector() -> None:
    sig = Signal()
    receivers = [recorder([], f"r{i}") for i in range(10)]
    for receiver in receivers:
        sig.connect(receiver, weak=False)
    for _ in range(3):
        sig.send("s")
    assert "direct" in sig.send.__code__.co_filename
    ref = weakref.ref(receivers[0])
    gc.disable()
    try:
        sig.connect(receivers[0], weak=True)  # now held weakly: the send is taken off
        del receivers[0]
        assert ref() is None  # freed by its reference count: the send held no cycle
    finally:
        gc.enable()
    assert [value for _, value in sig.send("s")] == [f"r{i}" for i in range(1, 10)]


def test_a_finalizer_that_disconnects_while_a_send_is_generated_is_not_undone() -> None:
    # A collection run by the allocations of generating the send calls a
    # finalizer that disconnects a receiver: the send made for the table from
    # before must not be installed.
    sig = Signal()
    log: list[tuple[str, t.Any, dict[str, t.Any]]] = []
    keep, leaving = recorder(log, "keep"), recorder(log, "leaving")
    sig.connect(keep, weak=False)
    sig.connect(leaving, weak=False)
    ref = weakref.ref(leaving)
    armed = [True]

    def during_generation(phase: str, info: dict[str, t.Any]) -> None:
        if phase != "start" or not armed[0]:
            return
        frame = sys._getframe()
        while frame is not None:
            if frame.f_code.co_name == "make_send":
                armed[0] = False
                sig.disconnect(ref())
                return
            frame = frame.f_back

    sig.send("s")  # the table is made; the next send generates the send
    threshold = gc.get_threshold()
    gc.callbacks.append(during_generation)
    gc.set_threshold(1)
    try:
        sig.send("s")
    finally:
        gc.set_threshold(*threshold)
        gc.callbacks.remove(during_generation)
    assert not armed[0], "no collection ran while the send was generated"
    del leaving
    gc.collect()
    assert ref() is None
    log.clear()
    sig.send("s")
    sig.send("s")
    assert [name for name, _, _ in log] == ["keep", "keep"]
