"""Subscriptions that change: lazy tables, connected_to blocks, short-lived
receivers, subclasses that override send, and readable tracebacks."""

from __future__ import annotations

import gc
import traceback
import typing as t

import pytest

from heliograph.signals import ANY, ISOLATE, Signal
from heliograph.signals.base import Signal as BaseSignal

if t.TYPE_CHECKING:
    from tests.signals.signal_helpers import Calls


class Owner:
    def __init__(self, label: str) -> None:
        self.label = label

    def on_signal(self, sender: t.Any, **kwargs: t.Any) -> str:
        return self.label


def count_table_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the tables made from scratch from now on."""
    built: list[int] = []
    original = BaseSignal._build_table

    def counting(self: BaseSignal) -> t.Any:
        built.append(1)
        return original(self)

    monkeypatch.setattr(BaseSignal, "_build_table", counting)
    return built


def test_a_thousand_connects_then_a_send_make_the_table_once(
    monkeypatch: pytest.MonkeyPatch, calls: Calls
) -> None:
    sig = Signal()
    built = count_table_builds(monkeypatch)
    receivers = [calls.receiver(str(i)) for i in range(1000)]
    for i, receiver in enumerate(receivers):
        sig.connect(receiver, sender=f"s{i}")
    for i, receiver in enumerate(receivers[::2]):
        sig.disconnect(receiver, sender=f"s{2 * i}")
    assert built == []
    assert [value for _, value in sig.send("s1")] == ["1"]
    assert [value for _, value in sig.send("s0")] == []
    assert len(built) == 1


def test_receivers_connected_for_any_keep_their_order_through_lazy_tables(
    calls: Calls,
) -> None:
    sig = Signal()
    first = [sig.connect(calls.receiver(f"a{i}")) for i in range(40)]
    assert [value for _, value in sig.send("x")] == [f"a{i}" for i in range(40)]
    sig.disconnect(first[3])
    sig.connect(first[3])  # connected again: now the last one
    later = sig.connect(calls.receiver("late"), sender="x")
    expected = [f"a{i}" for i in range(40) if i != 3] + ["a3"]
    assert [value for _, value in sig.send("y")] == expected
    assert [value for _, value in sig.send("x")] == [*expected, "late"]
    assert [r for r in sig.receivers_for("x")][-1] is later


@pytest.mark.parametrize("others", [0, 3, 20])
def test_connected_to_blocks_leave_the_signal_as_it_was(calls: Calls, others: int) -> None:
    sig = Signal(policy=ISOLATE)
    kept = [sig.connect(calls.receiver(f"k{i}")) for i in range(others)]
    names = [f"k{i}" for i in range(others)]
    for round_ in range(3):
        temporary = calls.receiver(f"t{round_}")
        with sig.connected_to(temporary):
            assert [value for _, value in sig.send("s", n=round_)] == [*names, f"t{round_}"]
            assert sig.has_receivers_for("s")
        assert [value for _, value in sig.send("s", n=round_)] == names
        assert [info.receiver for info in sig.receiver_info()] == kept
        assert bool(sig.receivers) == bool(kept)


def test_a_connect_inside_a_connected_to_block_stays_after_it(calls: Calls) -> None:
    sig = Signal()
    temporary, lasting = calls.receiver("temporary"), calls.receiver("lasting")
    with sig.connected_to(temporary):
        sig.send("s")
        sig.connect(lasting)
        assert [value for _, value in sig.send("s")] == ["temporary", "lasting"]
    assert [value for _, value in sig.send("s")] == ["lasting"]


def test_nested_blocks_of_the_same_receiver_end_one_at_a_time(calls: Calls) -> None:
    sig = Signal()
    receiver = calls.receiver("r")
    with sig.connected_to(receiver):
        with sig.connected_to(receiver):
            assert [value for _, value in sig.send("s")] == ["r"]
        assert [value for _, value in sig.send("s")] == ["r"]
    assert sig.send("s") == []
    assert not sig.receivers


def test_a_block_for_a_sender_or_on_a_muted_signal_still_connects_for_the_block(
    calls: Calls,
) -> None:
    sig = Signal()
    receiver = calls.receiver("r")
    with sig.connected_to(receiver, sender="a"):
        assert [value for _, value in sig.send("a")] == ["r"]
        assert sig.send("b") == []
    with sig.muted(), sig.connected_to(receiver):
        assert sig.send("a") == []
    assert sig.send("a") == [] and not sig.receivers


def test_short_lived_bound_methods_come_and_go(calls: Calls) -> None:
    sig = Signal()
    kept = sig.connect(calls.receiver("kept"))
    survivor: Owner | None = None  # every third owner lives until the next third
    for round_ in range(50):
        owner = Owner(f"o{round_}")
        sig.connect(owner.on_signal)
        older = [survivor.label] if survivor is not None else []
        assert [value for _, value in sig.send("s")] == ["kept", *older, f"o{round_}"]
        if round_ % 3 == 0:
            survivor = owner
        del owner
    del survivor
    gc.collect()
    assert [value for _, value in sig.send("s")] == ["kept"]
    assert [info.receiver for info in sig.receiver_info()] == [kept]
    assert sig.has_receivers_for("s")
    sig.disconnect(kept)
    assert not sig.has_receivers_for("s")
    assert not sig.receivers


def test_a_reconnect_after_the_last_receiver_died_sends_to_the_living_only() -> None:
    sig = Signal()
    first = Owner("first")
    sig.connect(first.on_signal)
    assert [value for _, value in sig.send("s")] == ["first"]
    last = Owner("last")
    sig.connect(last.on_signal)
    for _ in range(3):  # the generated send is installed for this table
        assert [value for _, value in sig.send("s")] == ["first", "last"]
    del last
    gc.collect()
    sig.connect(first.on_signal)  # already connected: applies the death, changes nothing
    for _ in range(3):
        assert [value for _, value in sig.send("s")] == ["first"]
    assert [info.receiver for info in sig.receiver_info()] == [first.on_signal]
    newer = Owner("newer")
    sig.connect(newer.on_signal)
    assert [value for _, value in sig.send("s")] == ["first", "newer"]


class SlotsOwner:
    """An instance that cannot be weakly referenced: its bound method is held strongly."""

    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def on_signal(self, sender: t.Any, **kwargs: t.Any) -> str:
        return self.label


def test_a_bound_method_of_an_unweakrefable_instance_is_held_strongly() -> None:
    sig = Signal()
    sig.connect(SlotsOwner("strong").on_signal)  # weak asked, not possible
    gc.collect()
    assert [value for _, value in sig.send("s")] == ["strong"]
    [info] = sig.receiver_info()
    assert info.receiver.__self__.label == "strong"
    sig.disconnect(info.receiver)
    assert sig.send("s") == []


def test_collected_receivers_are_not_reported_by_any_lookup() -> None:
    sig = Signal()
    owners = [Owner(str(i)) for i in range(12)]
    for index in range(12):
        sig.connect(owners[index].on_signal)
    sig.send("s")
    del owners[:]
    gc.collect()
    assert not sig.has_receivers_for("s")
    assert list(sig.receivers_for(ANY)) == []
    assert sig.send("s") == []
    assert sig.receiver_info() == [] and not sig.receivers


class Audited(Signal):
    """A subclass that overrides send, as blinker users do for auditing."""

    def __init__(self) -> None:
        super().__init__()
        self.audit: list[t.Any] = []

    def send(self, sender: t.Any = None, /, **kwargs: t.Any) -> t.Any:
        self.audit.append((sender, kwargs))
        return super().send(sender, **kwargs)


def test_a_subclass_that_overrides_send_has_it_called(calls: Calls) -> None:
    sig = Audited()
    sig.connect(calls.receiver("a"))
    sig.connect(calls.receiver("b"))
    for n in range(3):  # the sends that would install a generated send
        assert [value for _, value in sig.send("s", n=n)] == ["a", "b"]
    with sig.connected_to(calls.receiver("c")):
        assert [value for _, value in sig.send("s", n=3)] == ["a", "b", "c"]
    assert sig.audit == [("s", {"n": n}) for n in range(4)]
    assert "send" not in sig.__dict__


@pytest.mark.parametrize("receivers", [1, 5, 12], ids=["one", "straight-line", "looped"])
def test_tracebacks_through_the_generated_send_show_its_source(receivers: int) -> None:
    sig = Signal()

    def fine(sender: t.Any, **kwargs: t.Any) -> None:
        return None

    def broken(sender: t.Any, **kwargs: t.Any) -> None:
        raise LookupError("broken receiver")

    for _ in range(receivers - 1):
        sig.connect(_fresh(fine), weak=False)
    sig.connect(broken)
    for _ in range(3):  # the third send runs the generated one
        with pytest.raises(LookupError) as raised:
            sig.send("s", user="u", data=1)
    assert "send" in sig.__dict__
    frames = traceback.extract_tb(raised.value.__traceback__)
    generated = [frame for frame in frames if frame.filename.startswith("<heliograph send")]
    assert generated, [frame.filename for frame in frames]
    assert all(frame.line for frame in generated)
    assert "(sender, user=value0, data=value1)" in generated[-1].line


def _fresh(fn: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    def receiver(sender: t.Any, **kwargs: t.Any) -> t.Any:
        return fn(sender, **kwargs)

    return receiver


def test_a_named_signal_keeps_its_attributes_within_cpythons_shared_keys() -> None:
    """Every attribute a named signal ever holds (its name, a docstring, a
    contract, an installed send, the meta-signals once asked for) fits in the
    keys CPython 3.11 shares between the instances of a class (29 at most):
    past them every signal gets a dict of its own and its method calls stay
    unspecialised, slowing every connect and send."""
    from heliograph.signals.base import NamedSignal

    seen: set[str] = set()
    for number in range(3):
        sig = NamedSignal(f"shared-keys-{number}", doc="A documented signal.")
        sig.contract = None
        receiver = Owner("kept").on_signal
        sig.connect(receiver)
        sig.send("sender", value=1)
        sig.send("sender", value=1)  # installs the generated send
        seen.update(vars(sig))
        with sig.connected_to(lambda sender, **kwargs: None):
            sig.send("sender")
        sig.connect(lambda sender, **kwargs: None, sender="by-value")
        assert sig.receiver_connected is sig.receiver_connected
        sig.disconnect(receiver)
        sig.stats()
        seen.update(vars(sig))
    assert "send" in seen
    assert len(seen) <= 29, sorted(seen)
