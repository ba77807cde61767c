"""The argument guard: receivers must not modify what they receive."""

from __future__ import annotations

import asyncio
import collections.abc as c
import logging
import subprocess
import sys
import typing as t

import pytest

from heliograph import signals
from heliograph.signals import NamedSignal, Signal, SignalArgumentMutated, receiver_failed
from heliograph.signals import base as signals_base

Mutation = c.Callable[[dict[str, t.Any]], None]

MUTATIONS: dict[str, tuple[str, Mutation]] = {
    "dict key added": ("data", lambda kw: kw["data"].update(extra=1)),
    "dict value replaced": ("data", lambda kw: kw["data"].__setitem__("id", "other")),
    "dict key removed": ("data", lambda kw: kw["data"].pop("id")),
    "list appended": ("items", lambda kw: kw["items"].append(4)),
    "list item replaced": ("items", lambda kw: kw["items"].__setitem__(0, 9)),
    "set added": ("tags", lambda kw: kw["tags"].add("new")),
    "nested list in dict": ("data", lambda kw: kw["data"]["resources"].append({})),
    "nested dict in list": ("items", lambda kw: kw["items"][2].update(x=1)),
    "list inside a tuple": ("pair", lambda kw: kw["pair"][1].append(0)),
}


def arguments() -> dict[str, t.Any]:
    return {
        "data": {"id": "abc", "resources": [{"url": "u"}]},
        "items": [1, 2, {"k": "v"}],
        "tags": {"a", "b"},
        "pair": ("x", [1]),
        "count": 3,
    }


def mutating_receiver(mutate: Mutation) -> c.Callable[..., str]:
    def mutator(sender: t.Any, **kwargs: t.Any) -> str:
        mutate(kwargs)
        return "mutated"

    return mutator


def reader(sender: t.Any, **kwargs: t.Any) -> str:
    copy = dict(kwargs["data"])
    copy["extra"] = [*kwargs["items"], 5]
    _ = sorted(kwargs["tags"]), kwargs["data"]["resources"][0]["url"], kwargs["count"] + 1
    return "read"


def test_the_guard_is_off_by_default_in_a_fresh_process() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import heliograph.signals as s; print(s.settings())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "'guard_arguments': False" in out
    assert "'isolate_failures': True" in out


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_the_guard_off_lets_a_mutating_receiver_pass_unreported(sig: Signal, case: str) -> None:
    _, mutate = MUTATIONS[case]
    sig.connect(mutating_receiver(mutate), weak=False)
    assert sig.send("x", **arguments())[0][1] == "mutated"


def test_the_guard_off_takes_no_snapshots(
    sig: Signal, isolating: NamedSignal, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = []

    def counting(sender: t.Any, kwargs: dict[str, t.Any]) -> dict[str, object]:
        taken.append(sender)
        return {}

    monkeypatch.setattr(signals_base, "snapshot_arguments", counting)
    sig.connect(reader)
    sig.connect(reader, "a")
    isolating.connect(reader)
    sig.send("a", **arguments())
    isolating.send("a", **arguments())
    asyncio.run(sig.send_async("a", _sync_wrapper=_to_async, **arguments()))
    assert taken == []
    signals.guard_arguments(True)
    sig.send("a", **arguments())
    assert taken != []


def _to_async(receiver: c.Callable[..., t.Any]) -> c.Callable[..., t.Any]:
    async def call(sender: t.Any, **kwargs: t.Any) -> t.Any:
        return receiver(sender, **kwargs)

    return call


@pytest.mark.parametrize("case", list(MUTATIONS))
def test_under_raise_a_mutating_receiver_raises_signal_argument_mutated(
    case: str,
) -> None:
    argument, mutate = MUTATIONS[case]
    sig = NamedSignal("guarded_signal")
    receiver = sig.connect(mutating_receiver(mutate), weak=False)
    signals.guard_arguments(True)
    with pytest.raises(SignalArgumentMutated) as raised:
        sig.send("x", **arguments())
    error = raised.value
    assert error.arguments == [argument]
    assert error.receiver_name == f"{receiver.__module__}.{receiver.__qualname__}"
    assert error.signal_name == "guarded_signal"
    assert error.receiver_name in str(error)
    assert argument in str(error)
    assert "guarded_signal" in str(error)


def test_the_guard_names_every_mutated_argument(sig: Signal) -> None:
    def mutate_two(sender: t.Any, **kwargs: t.Any) -> None:
        kwargs["items"].clear()
        kwargs["data"].clear()

    sig.connect(mutate_two)
    signals.guard_arguments(True)
    with pytest.raises(SignalArgumentMutated) as raised:
        sig.send("x", **arguments())
    assert raised.value.arguments == ["data", "items"]


def test_the_guard_reports_a_mutated_sender(sig: Signal) -> None:
    def mutate_sender(sender: t.Any, **kwargs: t.Any) -> None:
        sender["seen"] = True

    sig.connect(mutate_sender)
    signals.guard_arguments(True)
    with pytest.raises(SignalArgumentMutated) as raised:
        sig.send({"app": 1})
    assert raised.value.arguments == ["sender"]


@pytest.mark.parametrize("filtered", [False, True], ids=["any-sender", "per-sender"])
def test_under_isolate_a_mutation_is_logged_counted_and_announced(
    isolating: NamedSignal, caplog: pytest.LogCaptureFixture, filtered: bool
) -> None:
    announced = []

    def monitor(signal: t.Any, **kwargs: t.Any) -> None:
        announced.append(kwargs["exception"])

    sender = "a" if filtered else isolating.ANY
    mutator = isolating.connect(mutating_receiver(MUTATIONS["list appended"][1]), sender, False)
    isolating.connect(reader, sender)
    signals.guard_arguments(True)
    with receiver_failed.connected_to(monitor):
        results = isolating.send("a", **arguments())
    assert results == [(mutator, "mutated"), (reader, "read")]
    assert isolating.stats().failed == 1
    assert [info.failures for info in isolating.receiver_info()] == [1, 0]
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "SignalArgumentMutated" in record.getMessage()
    assert mutator.__qualname__ in record.getMessage()
    assert "items" in record.getMessage()
    (error,) = announced
    assert isinstance(error, SignalArgumentMutated)


def test_a_receiver_that_only_reads_is_not_reported(
    sig: Signal, isolating: NamedSignal, caplog: pytest.LogCaptureFixture
) -> None:
    sig.connect(reader)
    isolating.connect(reader)
    signals.guard_arguments(True)
    assert sig.send("x", **arguments()) == [(reader, "read")]
    assert isolating.send("x", **arguments()) == [(reader, "read")]
    assert isolating.stats().failed == 0
    assert caplog.records == []


def test_the_guard_checks_send_async_receivers(sig: Signal) -> None:
    async def mutate(sender: t.Any, **kwargs: t.Any) -> None:
        kwargs["data"]["id"] = "changed"

    sig.connect(mutate)
    signals.guard_arguments(True)
    with pytest.raises(SignalArgumentMutated):
        asyncio.run(sig.send_async("x", **arguments()))


def test_the_guard_applies_to_signals_created_before_it_was_turned_on() -> None:
    created_before = Signal()
    created_before.connect(mutating_receiver(MUTATIONS["set added"][1]), weak=False)
    signals.guard_arguments(True)
    with pytest.raises(SignalArgumentMutated):
        created_before.send("x", **arguments())


def test_turning_the_guard_off_stops_reporting(sig: Signal) -> None:
    sig.connect(mutating_receiver(MUTATIONS["dict key added"][1]), weak=False)
    assert signals.guard_arguments(True) is False
    with pytest.raises(SignalArgumentMutated):
        sig.send("x", **arguments())
    assert signals.guard_arguments(False) is True
    assert sig.send("x", **arguments())[0][1] == "mutated"


def test_strict_turns_the_guard_on_inside_the_block_only(sig: Signal) -> None:
    sig.connect(mutating_receiver(MUTATIONS["dict key added"][1]), weak=False)
    with signals.strict(), pytest.raises(SignalArgumentMutated):
        sig.send("x", **arguments())
    assert sig.send("x", **arguments())[0][1] == "mutated"
    with signals.strict(guard=False):
        assert sig.send("x", **arguments())[0][1] == "mutated"


def test_the_guard_does_not_change_what_receivers_get_or_return(sig: Signal) -> None:
    got = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> int:
        got.append((sender, kwargs))
        return 7

    sig.connect(receiver)
    data = {"a": [1]}
    signals.guard_arguments(True)
    assert sig.send("s", data=data) == [(receiver, 7)]
    assert got == [("s", {"data": data})]
    assert got[0][1]["data"] is data
