"""A stateful test: random connects, disconnects, collections and sends agree
with a simple model of which receivers a send calls, and in which order."""

from __future__ import annotations

import gc
import logging
import typing as t

import blinker
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from heliograph.signals import ANY, ISOLATE, RAISE, Signal

SENDER_SLOTS = ("str", "int", "obj0", "obj1")
ANY_SLOTS = ("ANY", "blinker.ANY")
# Half the connections are for any sender, so that runs often reach states
# where no receiver is filtered by sender (send's fast path) as well as others.
CONNECT_SLOTS = st.sampled_from(("ANY", "ANY", "ANY", "blinker.ANY", *SENDER_SLOTS))


class Boom(Exception):
    def __init__(self, rid: int) -> None:
        super().__init__(rid)
        self.rid = rid


class SenderObject:
    """A sender matched by identity, replaced (and collected) by a rule."""


KWARGS = st.sampled_from([{}, {"a": 1}, {"a": 1, "b": 2}, {"b": 2, "a": 1}])
"""Sends with 0, 1 and 2 keyword arguments, in both orders."""

Log = list[tuple[int, tuple[tuple[str, t.Any], ...]]]
"""What each receiver call saw: its id and the keyword arguments, in order."""


class Holder:
    """Owner of a bound-method receiver; ``cyclic`` ones need the cyclic collector."""

    def __init__(self, rid: int, log: Log, fails: bool, cyclic: bool) -> None:
        self.rid, self.log, self.fails = rid, log, fails
        if cyclic:
            self.me = self

    def on_signal(self, sender: t.Any, **kwargs: t.Any) -> int:
        if self.fails:
            raise Boom(self.rid)
        self.log.append((self.rid, tuple(kwargs.items())))
        return self.rid


def make_function(rid: int, log: Log, fails: bool) -> t.Callable[..., int]:
    def receiver(sender: t.Any, **kwargs: t.Any) -> int:
        if fails:
            raise Boom(rid)
        log.append((rid, tuple(kwargs.items())))
        return rid

    receiver.rid = rid  # type: ignore[attr-defined]
    return receiver


def rid_of(receiver: t.Any) -> int:
    return int(getattr(receiver, "__self__", receiver).rid)


class DispatchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.log: Log = []
        self.held: dict[int, t.Any] = {}
        # The model: receiver id -> {sender slot or "ANY": weak}, in first-connection order.
        self.model: dict[int, dict[str, bool]] = {}
        self.fails: dict[int, bool] = {}
        self.objects = [SenderObject(), SenderObject()]
        self.next_rid = 0
        # Whether garbage cycles may hold receivers: cyclic holders were
        # dropped, or isolated exceptions (whose tracebacks reference the
        # send's frame) were made. Only then is the slow collector run.
        self.cycles = False
        gc.freeze()  # earlier examples' leftovers stay out of the collections below
        self.sig = Signal()
        self.logger = logging.getLogger("heliograph.signals.base")
        self.logger_was_disabled = self.logger.disabled
        self.logger.disabled = True  # isolated failures are expected here

    def teardown(self) -> None:
        self.logger.disabled = self.logger_was_disabled
        self.sig._clear_state()

    # -- helpers ------------------------------------------------------------------

    def sender(self, slot: str) -> t.Any:
        if slot == "str":
            return "".join(["sen", "der"])  # a new, equal string every time
        if slot == "int":
            return int("100000")  # a new, equal int every time
        if slot == "ANY":
            return ANY
        if slot == "blinker.ANY":
            return blinker.ANY
        return self.objects[int(slot[-1])]

    def receiver(self, rid: int) -> t.Any:
        held = self.held[rid]
        return held.on_signal if isinstance(held, Holder) else held

    def model_key(self, slot: str) -> str:
        return "ANY" if slot in ANY_SLOTS else slot

    def settle(self, cyclic_garbage: bool = False) -> None:
        """Collect garbage (when cycles may hold some); then receivers nobody
        holds and no connection holds strongly are gone."""
        if cyclic_garbage or self.cycles:
            for _ in range(2):
                gc.collect()
            self.cycles = False
        for rid in [rid for rid in self.model if rid not in self.held]:
            if all(self.model[rid].values()):
                del self.model[rid]

    # -- rules --------------------------------------------------------------------

    @initialize(policy=st.sampled_from([RAISE, ISOLATE]))
    def choose_policy(self, policy: str) -> None:
        self.sig.policy = policy

    @rule(
        kind=st.sampled_from(["function", "method", "cyclic"]),
        fails=st.sampled_from([False, False, True]),
        slot=CONNECT_SLOTS,
        weak=st.booleans(),
    )
    def new_receiver(self, kind: str, fails: bool, slot: str, weak: bool) -> None:
        self.add_receiver(kind, fails, slot, weak)

    @rule(
        count=st.integers(min_value=9, max_value=12),
        kind=st.sampled_from(["function", "method"]),
        weak=st.booleans(),
        slot=st.sampled_from(["ANY", "str"]),
    )
    def many_receivers(self, count: int, kind: str, weak: bool, slot: str) -> None:
        """More receivers than a straight-line send calls (its loop takes over)."""
        for _ in range(count):
            self.add_receiver(kind, False, slot, weak)

    def add_receiver(self, kind: str, fails: bool, slot: str, weak: bool) -> None:
        rid = self.next_rid
        self.next_rid += 1
        self.fails[rid] = fails
        if kind == "function":
            self.held[rid] = make_function(rid, self.log, fails)
        else:
            self.held[rid] = Holder(rid, self.log, fails, cyclic=kind == "cyclic")
        self.sig.connect(self.receiver(rid), self.sender(slot), weak=weak)
        self.model[rid] = {self.model_key(slot): weak}

    @precondition(lambda self: self.held)
    @rule(data=st.data(), slot=CONNECT_SLOTS, weak=st.booleans())
    def connect(self, data: st.DataObject, slot: str, weak: bool) -> None:
        rid = data.draw(st.sampled_from(sorted(self.held)), label="receiver")
        self.sig.connect(self.receiver(rid), self.sender(slot), weak=weak)
        self.model.setdefault(rid, {})[self.model_key(slot)] = weak

    @precondition(lambda self: self.held)
    @rule(data=st.data(), slot=st.sampled_from(SENDER_SLOTS + ANY_SLOTS))
    def disconnect(self, data: st.DataObject, slot: str) -> None:
        rid = data.draw(st.sampled_from(sorted(self.held)), label="receiver")
        self.sig.disconnect(self.receiver(rid), self.sender(slot))
        key = self.model_key(slot)
        if key == "ANY":
            self.model.pop(rid, None)
        elif rid in self.model:
            self.model[rid].pop(key, None)
            if not self.model[rid]:
                del self.model[rid]

    @precondition(lambda self: self.held)
    @rule(data=st.data())
    def drop_receiver(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(self.held)), label="receiver")
        self.settle(cyclic_garbage=isinstance(self.held.pop(rid), Holder))

    @precondition(lambda self: any("obj0" in k or "obj1" in k for k in self.model.values()))
    @rule(index=st.sampled_from([0, 1]))
    def replace_sender_object(self, index: int) -> None:
        key = f"obj{index}"
        # A receiver only the signal holds may now be held weakly only.
        orphans = any(rid not in self.held and key in keys for rid, keys in self.model.items())
        self.objects[index] = SenderObject()
        self.settle(cyclic_garbage=orphans)
        for rid in list(self.model):
            self.model[rid].pop(key, None)
            if not self.model[rid]:
                del self.model[rid]
        self.settle()

    @rule(slot=st.sampled_from(SENDER_SLOTS), kwargs=KWARGS)
    def send(self, slot: str, kwargs: dict[str, int]) -> None:
        expected = [rid for rid, keys in self.model.items() if "ANY" in keys or slot in keys]
        self.check_send(slot, kwargs, expected, self.model)

    @precondition(lambda self: self.held)
    @rule(data=st.data(), slot=st.sampled_from(SENDER_SLOTS + ANY_SLOTS), kwargs=KWARGS)
    def send_in_connected_to_block(
        self, data: st.DataObject, slot: str, kwargs: dict[str, int]
    ) -> None:
        """A receiver connected for one block: called by the block's sends, as
        the last one unless already connected, and gone after it."""
        rid = data.draw(st.sampled_from(sorted(self.held)), label="receiver")
        key = self.model_key(slot)
        inside = {r: dict(keys) for r, keys in self.model.items()}
        inside.setdefault(rid, {}).setdefault(key, False)
        sent = data.draw(st.sampled_from(SENDER_SLOTS), label="sent by")
        expected = [r for r, keys in inside.items() if "ANY" in keys or sent in keys]
        with self.sig.connected_to(self.receiver(rid), self.sender(slot)):
            self.check_send(sent, kwargs, expected, inside)

    def check_send(
        self,
        slot: str,
        kwargs: dict[str, int],
        expected: list[int],
        model: dict[int, dict[str, bool]],
    ) -> None:
        self.log.clear()
        items = tuple(kwargs.items())
        first_failure = next((rid for rid in expected if self.fails[rid]), None)
        if self.sig.policy == RAISE and first_failure is not None:
            self.cycles = True
            try:
                self.sig.send(self.sender(slot), **kwargs)
            except Boom as exc:
                assert exc.rid == first_failure
            else:
                raise AssertionError("the failing receiver's error did not propagate")
            reached = expected[: expected.index(first_failure)]
            assert self.log == [(rid, items) for rid in reached]
            return
        results = self.sig.send(self.sender(slot), **kwargs)
        self.cycles = self.cycles or first_failure is not None
        assert [rid_of(receiver) for receiver, _ in results] == expected
        for (_, value), rid in zip(results, expected, strict=True):
            if self.fails[rid]:
                assert isinstance(value, Boom) and value.rid == rid
            else:
                assert value == rid
        assert self.log == [(rid, items) for rid in expected if not self.fails[rid]]
        del results

    # -- invariants ---------------------------------------------------------------

    @invariant()
    def introspection_matches_the_model(self) -> None:
        info = self.sig.receiver_info()
        assert [rid_of(i.receiver) for i in info] == list(self.model)
        assert [i.weak for i in info] == [all(keys.values()) for keys in self.model.values()]
        assert bool(self.sig.receivers) == bool(self.model)
        del info

    @invariant()
    def lookups_match_the_model(self) -> None:
        for slot in SENDER_SLOTS:
            expected = [rid for rid, keys in self.model.items() if "ANY" in keys or slot in keys]
            sender = self.sender(slot)
            assert [rid_of(r) for r in self.sig.receivers_for(sender)] == expected
            assert self.sig.has_receivers_for(sender) == bool(expected)


@pytest.fixture(autouse=True)
def frozen_heap() -> t.Iterator[None]:
    """Keep everything that exists before an example out of the collector's
    sight (each example freezes again), so that the many collections the
    model needs stay cheap."""
    gc.collect()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.collect()


DispatchMachine.TestCase.settings = settings(
    max_examples=500,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestDispatchAgreesWithModel = DispatchMachine.TestCase
