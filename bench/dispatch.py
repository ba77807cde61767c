"""Dispatch benchmark: heliograph's ``send`` against its baselines, in one run.

Run it with ``.venv/bin/python bench/dispatch.py`` (``--quick`` for a rough
look, ``--check`` to exit 1 when a target is missed). It prints, for each
dispatch target, the ratio of two costs measured
in this process and this run, never an absolute time compared with a constant:

1. ``send`` to 5 receivers connected for ANY, against a plain Python loop that
   calls the same 5 functions with the same arguments and builds the same
   ``[(receiver, result)]`` list: at most 1.5x.
2. blinker 1.9's ``Signal.send`` with the same receivers, against that same
   heliograph ``send``: blinker at least 3x slower.
3. ``send`` with no receiver, against calling an empty function with the same
   arguments: at most 3x.
4. 100 receivers each connected for a different string sender, a send for one
   of those senders, against a send to a single receiver connected for ANY:
   at most 2x.

Each of those runs twice: with a plain ``Signal()`` (policy 'raise') and with
``Signal(policy='isolate')``. Then work that changes subscriptions, against
blinker 1.9 doing the same (policy 'raise', blinker's):

5. connect 10,000 receivers, each for a sender of its own, disconnect every
   second one, then send once: at most 2x blinker's time.
6. the same with every receiver connected for ANY: at most 2x.
7. ``with signal.connected_to(tmp): signal.send(...)`` with no other
   receiver: at most 1x blinker's.
8. the same beside 20 receivers: at most 1x.
9. connect a weak bound method of a new object, send, drop the object (it
   disconnects itself): at most 1x.
10. ``send_async`` to 5 coroutine receivers (driven without an event loop, the
    same way for both): blinker at least 1.5x slower.

11. ``send`` to 5 receivers with a receiver observer that does nothing,
    against the same send without one (both policies): at most 1.2x for
    timing to be on by default.

Memory per connected receiver (tracemalloc, 10,000 weak receivers, tables
made by one send), for ANY and for a sender each: at most 1.5x blinker's.

Cold caches, as in a server, where a request runs much other code between
two sends: the five sends of a ``package_show`` (``request_started``,
``before_action``, ``action_succeeded``, ``action_committed``,
``request_finished``, with their keyword arguments) to 20 receivers each
(policy 'isolate'), with the CPU caches flushed (16 MB hashed, a list of
objects walked) before each request, against a plain list comprehension
calling the same receivers (``[(r, r(sender, **kwargs)) for r in ...]``,
failures not isolated): at most 1.1x. blinker's time is printed beside. The
hot loops above cannot show this: there the code and data of a send stay in
the caches from one iteration to the next.

How it measures: every contender is a ``timeit`` statement string compiled
against the same namespace, so each pays the same loop and lookup overhead.
The contenders are interleaved round by round (each round times every
contender once, in a rotated order), so a slow spell of the machine hits all of
them alike. A contender's cost is the minimum over the rounds, minus the cost
of timing an empty statement (the ``timeit`` loop itself), divided by the
iteration count. The table also shows the median of the per-round ratios, as a
hint of how noisy the run was; PASS/MISS is decided on the ratio of minima.
"""

from __future__ import annotations

import argparse
import collections.abc as c
import gc
import math
import os
import statistics
import sys
import time
import timeit
import tracemalloc
import typing as t
from dataclasses import dataclass

if __package__ in (None, ""):  # run as a script from a checkout: find the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from heliograph.signals import ISOLATE, RAISE, Signal, set_receiver_observer

try:
    import blinker
except ImportError:  # blinker is a dev dependency; case 2 is skipped without it
    blinker = None

SENDER = "sender-42"
"""The sender of every send (a string, so it also selects a receiver in case 4)."""

CALL_ARGS = "SENDER, user='alice', data=DATA"
"""The arguments of every call, as written in the statements."""

DATA = {"id": 42, "name": "example"}

POLICIES = (RAISE, ISOLATE)
DEFAULT_ROUNDS = 41
DEFAULT_SLICE = 0.04
"""About 20 s in all: 12 contenders x 41 rounds x 0.04 s, plus calibration."""
NULL = "timeit loop"


# The receivers: module-level functions, as extensions write them.
def r0(sender: t.Any, **kwargs: t.Any) -> None:
    return None


def r1(sender: t.Any, **kwargs: t.Any) -> None:
    return None


def r2(sender: t.Any, **kwargs: t.Any) -> None:
    return None


def r3(sender: t.Any, **kwargs: t.Any) -> None:
    return None


def r4(sender: t.Any, **kwargs: t.Any) -> None:
    return None


FIVE = (r0, r1, r2, r3, r4)


def plain_loop(sender: t.Any, **kwargs: t.Any) -> list[tuple[t.Any, t.Any]]:
    """The baseline of case 1: what ``send`` does, written by hand."""
    results = []
    for receiver in FIVE:
        results.append((receiver, receiver(sender, **kwargs)))
    return results


def empty(sender: t.Any, **kwargs: t.Any) -> None:
    """The baseline of case 3."""


def _make_receiver(index: int) -> c.Callable[..., None]:
    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        return None

    receiver.__name__ = receiver.__qualname__ = f"receiver_{index}"
    return receiver


HUNDRED = tuple(_make_receiver(i) for i in range(100))
"""Kept alive here: the signals hold them weakly."""

BULK = 10_000
"""Receivers connected by the bulk cases (5 and 6) and the memory measure."""

_many: list[c.Callable[..., None]] = []
_many_senders: list[str] = []


def many(count: int) -> tuple[list[c.Callable[..., None]], list[str]]:
    """``count`` distinct receivers (kept alive here) and as many string senders."""
    while len(_many) < count:
        _many.append(_make_receiver(len(_many)))
        _many_senders.append(f"sender-{len(_many_senders)}")
    return _many[:count], _many_senders[:count]


def bulk(make: c.Callable[[], t.Any], count: int, by_sender: bool) -> t.Any:
    """Cases 5 and 6: connect ``count`` receivers, disconnect every second one, send once."""
    receivers, senders = many(count)
    sig = make()
    if by_sender:
        for receiver, sender in zip(receivers, senders, strict=True):
            sig.connect(receiver, sender)
        for receiver, sender in zip(receivers[::2], senders[::2], strict=True):
            sig.disconnect(receiver, sender)
        sig.send(senders[1], user="alice", data=DATA)
    else:
        for receiver in receivers:
            sig.connect(receiver)
        for receiver in receivers[::2]:
            sig.disconnect(receiver)
        sig.send(SENDER, user="alice", data=DATA)
    return sig


class Owner:
    """Case 9: an object whose bound method is connected weakly, then dropped."""

    def on_signal(self, sender: t.Any, **kwargs: t.Any) -> None:
        return None


def weak_churn(sig: t.Any) -> None:
    """Case 9: the owner dies when this returns, which disconnects its method."""
    owner = Owner()
    sig.connect(owner.on_signal)
    sig.send(SENDER, user="alice", data=DATA)


async def c0(sender: t.Any, **kwargs: t.Any) -> None:
    return None


async def c1(sender: t.Any, **kwargs: t.Any) -> None:
    return None


async def c2(sender: t.Any, **kwargs: t.Any) -> None:
    return None


async def c3(sender: t.Any, **kwargs: t.Any) -> None:
    return None


async def c4(sender: t.Any, **kwargs: t.Any) -> None:
    return None


COROUTINES = (c0, c1, c2, c3, c4)


def drive(coroutine: c.Coroutine[t.Any, t.Any, t.Any]) -> t.Any:
    """Run a coroutine that never suspends to its end, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the coroutine suspended")


def observe_nothing(signal: t.Any, receiver: t.Any, seconds: float, error: t.Any) -> None:
    """Case 11: the cheapest observer there is."""


def temporary(sender: t.Any, **kwargs: t.Any) -> None:
    """Cases 7 and 8: the receiver connected for one block."""


def build_namespace(bulk_size: int = BULK) -> dict[str, t.Any]:
    """The objects the statements refer to, connected as each case needs."""
    ns: dict[str, t.Any] = {
        "SENDER": SENDER,
        "DATA": DATA,
        "BULK": bulk_size,
        "plain_loop": plain_loop,
        "empty": empty,
        "bulk": bulk,
        "weak_churn": weak_churn,
        "drive": drive,
        "temporary": temporary,
        "Signal": Signal,
    }
    for policy in POLICIES:
        five = Signal(policy=policy)
        for receiver in FIVE:
            five.connect(receiver)  # weak, for ANY: the defaults
        hundred = Signal(policy=policy)
        for i, receiver in enumerate(HUNDRED):
            hundred.connect(receiver, sender=f"sender-{i}")
        single = Signal(policy=policy)
        single.connect(HUNDRED[42])
        ns[f"five_{policy}"] = five
        ns[f"none_{policy}"] = Signal(policy=policy)
        ns[f"hundred_{policy}"] = hundred
        ns[f"single_{policy}"] = single
    ns["lone"] = Signal()
    crowd = Signal()
    for receiver in HUNDRED[:20]:
        crowd.connect(receiver)
    ns["crowd"] = crowd
    ns["churned"] = Signal()
    coroutines = Signal()
    for coroutine in COROUTINES:
        coroutines.connect(coroutine)
    ns["coroutines"] = coroutines
    if blinker is not None:
        bl = blinker.Signal()
        for receiver in FIVE:
            bl.connect(receiver)
        ns["blinker_five"] = bl
        ns["blinker_Signal"] = blinker.Signal
        ns["blinker_lone"] = blinker.Signal()
        bl_crowd = blinker.Signal()
        for receiver in HUNDRED[:20]:
            bl_crowd.connect(receiver)
        ns["blinker_crowd"] = bl_crowd
        ns["blinker_churned"] = blinker.Signal()
        bl_coroutines = blinker.Signal()
        for coroutine in COROUTINES:
            bl_coroutines.connect(coroutine)
        ns["blinker_coroutines"] = bl_coroutines
    _check_namespace(ns)
    return ns


def _check_namespace(ns: dict[str, t.Any]) -> None:
    """Every contender of a case must do the same work; fail loudly if not."""
    expected_five = plain_loop(SENDER, user="alice", data=DATA)
    for policy in POLICIES:
        got = ns[f"five_{policy}"].send(SENDER, user="alice", data=DATA)
        if got != expected_five:
            raise AssertionError(f"five_{policy} returned {got!r}, expected {expected_five!r}")
        if ns[f"none_{policy}"].send(SENDER, user="alice", data=DATA) != []:
            raise AssertionError(f"none_{policy} called a receiver")
        one = [(HUNDRED[42], None)]
        for name in (f"hundred_{policy}", f"single_{policy}"):
            got = ns[name].send(SENDER, user="alice", data=DATA)
            if got != one:
                raise AssertionError(f"{name} returned {got!r}, expected {one!r}")
    expected_async = [(receiver, None) for receiver in COROUTINES]
    got = drive(ns["coroutines"].send_async(SENDER, user="alice", data=DATA))
    if got != expected_async:
        raise AssertionError(f"send_async returned {got!r}, expected {expected_async!r}")
    size = ns["BULK"]
    for by_sender in (True, False):
        sig = bulk(Signal, size, by_sender)
        if len(sig.receiver_info()) != size - size // 2:
            raise AssertionError("the bulk case left the wrong receivers connected")
    with ns["lone"].connected_to(temporary):
        if ns["lone"].send(SENDER) != [(temporary, None)]:
            raise AssertionError("connected_to did not connect")
    if ns["lone"].receivers or len(ns["crowd"].send(SENDER)) != 20:
        raise AssertionError("connected_to left a receiver behind, or the crowd is wrong")
    weak_churn(ns["churned"])
    if ns["churned"].receivers:
        raise AssertionError("a dropped owner's method stayed connected")
    if "blinker_five" in ns:
        got = ns["blinker_five"].send(SENDER, user="alice", data=DATA)
        if sorted(got, key=lambda pair: pair[0].__name__) != expected_five:
            raise AssertionError(f"blinker returned {got!r}, expected {expected_five!r}")
        got = drive(ns["blinker_coroutines"].send_async(SENDER, user="alice", data=DATA))
        if sorted(got, key=lambda pair: pair[0].__name__) != expected_async:
            raise AssertionError(f"blinker's send_async returned {got!r}")
        weak_churn(ns["blinker_churned"])
        if ns["blinker_churned"].receivers:
            raise AssertionError("blinker kept a dropped owner's method")


@dataclass(frozen=True)
class Case:
    """One target: ``numerator / denominator`` compared with ``target``."""

    number: int
    policy: str
    title: str
    numerator: str
    denominator: str
    target: float
    at_most: bool
    """True: the ratio must be <= target; False: >= target."""

    @property
    def name(self) -> str:
        return f"{self.number}/{self.policy}"

    @property
    def rule(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.target:g}"


OBSERVED = "[observed]"
"""Contenders whose label ends so run with :func:`observe_nothing` set as the
receiver observer (set before each of their timings; every other contender
runs without one)."""

SEND_5 = "send, 5 ANY receivers"
ASYNC_ARGS = "SENDER, user='alice', data=DATA"


def contenders() -> dict[str, str]:
    """Label -> statement, for every contender of every case."""
    out = {
        NULL: "pass",
        "plain loop, 5 receivers": f"plain_loop({CALL_ARGS})",
        "empty function": f"empty({CALL_ARGS})",
    }
    if blinker is not None:
        out["blinker 1.9 send, 5 receivers"] = f"blinker_five.send({CALL_ARGS})"
    for policy in POLICIES:
        out[f"{SEND_5} [{policy}]"] = f"five_{policy}.send({CALL_ARGS})"
        out[f"send, no receiver [{policy}]"] = f"none_{policy}.send({CALL_ARGS})"
        out[f"send, 1 of 100 by sender [{policy}]"] = f"hundred_{policy}.send({CALL_ARGS})"
        out[f"send, 1 ANY receiver [{policy}]"] = f"single_{policy}.send({CALL_ARGS})"
        out[f"{SEND_5} [{policy}] {OBSERVED}"] = f"five_{policy}.send({CALL_ARGS})"
    for who, prefix, cls in (("heliograph", "", "Signal"), ("blinker 1.9", "blinker_", "")):
        if prefix and blinker is None:
            continue
        cls = cls or "blinker_Signal"
        out[f"{who}: bulk by sender"] = f"bulk({cls}, BULK, True)"
        out[f"{who}: bulk for ANY"] = f"bulk({cls}, BULK, False)"
        out[f"{who}: connected_to alone"] = (
            f"with {prefix}lone.connected_to(temporary): {prefix}lone.send({CALL_ARGS})"
        )
        out[f"{who}: connected_to beside 20"] = (
            f"with {prefix}crowd.connected_to(temporary): {prefix}crowd.send({CALL_ARGS})"
        )
        out[f"{who}: weak bound-method churn"] = f"weak_churn({prefix}churned)"
        out[f"{who}: send_async, 5 coroutines"] = (
            f"drive({prefix}coroutines.send_async({ASYNC_ARGS}))"
        )
    return out


def cases() -> list[Case]:
    out = []
    for policy in POLICIES:
        out.append(
            Case(
                1,
                policy,
                "send to 5 ANY receivers / plain loop",
                f"send, 5 ANY receivers [{policy}]",
                "plain loop, 5 receivers",
                1.5,
                at_most=True,
            )
        )
        if blinker is not None:
            out.append(
                Case(
                    2,
                    policy,
                    "blinker 1.9 send / heliograph send (5 receivers)",
                    "blinker 1.9 send, 5 receivers",
                    f"send, 5 ANY receivers [{policy}]",
                    3.0,
                    at_most=False,
                )
            )
        out.append(
            Case(
                3,
                policy,
                "send, no receiver / empty function call",
                f"send, no receiver [{policy}]",
                "empty function",
                3.0,
                at_most=True,
            )
        )
        out.append(
            Case(
                4,
                policy,
                "1 of 100 by sender / 1 ANY receiver",
                f"send, 1 of 100 by sender [{policy}]",
                f"send, 1 ANY receiver [{policy}]",
                2.0,
                at_most=True,
            )
        )
        out.append(
            Case(
                11,
                policy,
                "send to 5 with a no-op observer / without (<= 1.2 to be on by default)",
                f"{SEND_5} [{policy}] {OBSERVED}",
                f"{SEND_5} [{policy}]",
                1.2,
                at_most=True,
            )
        )
    if blinker is not None:
        for number, what, target in (
            (5, "bulk by sender", 2.0),
            (6, "bulk for ANY", 2.0),
            (7, "connected_to alone", 1.0),
            (8, "connected_to beside 20", 1.0),
            (9, "weak bound-method churn", 1.0),
        ):
            out.append(
                Case(
                    number,
                    RAISE,
                    f"{what}: heliograph / blinker 1.9",
                    f"heliograph: {what}",
                    f"blinker 1.9: {what}",
                    target,
                    at_most=True,
                )
            )
        out.append(
            Case(
                10,
                RAISE,
                "send_async, 5 coroutines: blinker 1.9 / heliograph",
                "blinker 1.9: send_async, 5 coroutines",
                "heliograph: send_async, 5 coroutines",
                1.5,
                at_most=False,
            )
        )
    return sorted(out, key=lambda case: (case.number, POLICIES.index(case.policy)))


@dataclass(frozen=True)
class Timing:
    """One contender's cost: nanoseconds per call, net of the timeit loop."""

    label: str
    statement: str
    number: int
    best_ns: float
    median_ns: float
    per_round_ns: tuple[float, ...]


@dataclass(frozen=True)
class Result:
    case: Case
    numerator_ns: float
    denominator_ns: float
    ratio: float
    """Ratio of the contenders' best (minimum) costs: what PASS/MISS is decided on."""
    median_ratio: float
    """Median of the ratios taken round by round: a hint of the run's noise."""
    passed: bool


def _calibrate(timer: timeit.Timer, slice_seconds: float) -> int:
    """An iteration count whose timing lasts about ``slice_seconds``."""
    number = 1
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= slice_seconds / 5 or number >= 10**8:
            return max(1, int(number * slice_seconds / max(elapsed, 1e-9)))
        number *= 4


def measure(
    rounds: int = DEFAULT_ROUNDS,
    slice_seconds: float = DEFAULT_SLICE,
    number: int | None = None,
    bulk_size: int = BULK,
) -> dict[str, Timing]:
    """Time every contender ``rounds`` times, interleaved round by round.

    ``number`` fixes the iteration count of every timing; without it each
    contender is calibrated so that one timing lasts about ``slice_seconds``.
    ``bulk_size`` is the number of receivers of the bulk cases.
    """
    ns = build_namespace(bulk_size)
    ns["set_receiver_observer"] = set_receiver_observer
    ns["observe_nothing"] = observe_nothing
    statements = contenders()
    labels = list(statements)
    timers = {
        label: timeit.Timer(
            stmt,
            setup=(
                "set_receiver_observer(observe_nothing)"
                if label.endswith(OBSERVED)
                else "set_receiver_observer(None)"
            ),
            globals=ns,
        )
        for label, stmt in statements.items()
    }
    numbers = {
        label: number if number is not None else _calibrate(timer, slice_seconds)
        for label, timer in timers.items()
    }
    raw: dict[str, list[float]] = {label: [] for label in labels}
    try:
        for round_index in range(rounds):
            shift = round_index % len(labels)
            order = labels[shift:] + labels[:shift]
            if round_index % 2:
                order.reverse()
            for label in order:
                raw[label].append(timers[label].timeit(numbers[label]) / numbers[label])
    finally:
        set_receiver_observer(None)
    loop_ns = min(raw[NULL]) * 1e9

    def net(seconds: float) -> float:
        # Clamped so that tiny smoke runs cannot divide by zero.
        return max(seconds * 1e9 - loop_ns, 1e-3)

    out = {}
    for label in labels:
        if label == NULL:
            per_round = tuple(seconds * 1e9 for seconds in raw[label])
        else:
            per_round = tuple(net(seconds) for seconds in raw[label])
        out[label] = Timing(
            label=label,
            statement=statements[label],
            number=numbers[label],
            best_ns=min(per_round),
            median_ns=statistics.median(per_round),
            per_round_ns=per_round,
        )
    return out


def evaluate(timings: dict[str, Timing]) -> list[Result]:
    """The ratio of each case from one run's timings."""
    results = []
    for case in cases():
        top, bottom = timings[case.numerator], timings[case.denominator]
        ratio = top.best_ns / bottom.best_ns
        median_ratio = statistics.median(
            a / b for a, b in zip(top.per_round_ns, bottom.per_round_ns, strict=True)
        )
        passed = ratio <= case.target if case.at_most else ratio >= case.target
        passed = passed and math.isfinite(ratio)
        results.append(Result(case, top.best_ns, bottom.best_ns, ratio, median_ratio, passed))
    return results


def run(
    rounds: int = DEFAULT_ROUNDS,
    slice_seconds: float = DEFAULT_SLICE,
    number: int | None = None,
    bulk_size: int = BULK,
) -> tuple[dict[str, Timing], list[Result]]:
    """Measure and evaluate; garbage collection is off while timing, as in timeit."""
    timings = measure(rounds, slice_seconds, number, bulk_size)
    return timings, evaluate(timings)


@dataclass(frozen=True)
class Memory:
    """Bytes per connected receiver, heliograph against blinker."""

    what: str
    heliograph: float
    blinker: float
    target: float = 1.5

    @property
    def ratio(self) -> float:
        return self.heliograph / self.blinker

    @property
    def passed(self) -> bool:
        return math.isfinite(self.ratio) and self.ratio <= self.target


def bytes_per_receiver(make: c.Callable[[], t.Any], count: int, by_sender: bool) -> float:
    """What ``count`` weak receivers connected to a new signal allocate, per
    receiver, once a send has made the signal's tables."""
    receivers, senders = many(count)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        sig = make()
        for receiver, sender in zip(receivers, senders, strict=True):
            sig.connect(receiver, sender if by_sender else Signal.ANY)
        sig.send(senders[0])
        used = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    del sig
    return used / count


def measure_memory(count: int = BULK) -> list[Memory]:
    """Memory per receiver for ANY and for a sender each (needs blinker)."""
    if blinker is None:
        return []
    out = []
    for what, by_sender in (("for ANY", False), ("a sender each", True)):
        ours = bytes_per_receiver(Signal, count, by_sender)
        theirs = bytes_per_receiver(blinker.Signal, count, by_sender)
        out.append(Memory(what, ours, theirs))
    return out


def format_report(timings: dict[str, Timing], results: list[Result]) -> str:
    lines = []
    width = max(len(label) for label in timings)
    lines.append(f"{'contender':<{width}}  {'best ns':>9}  {'median ns':>9}  {'iterations':>10}")
    for label, timing in timings.items():
        note = "  (subtracted from the others)" if label == NULL else ""
        lines.append(
            f"{label:<{width}}  {timing.best_ns:>9.1f}  {timing.median_ns:>9.1f}"
            f"  {timing.number:>10}{note}"
        )
    lines.append("")
    title_width = max(len(r.case.title) for r in results)
    header = (
        f"{'case':<10}  {'what':<{title_width}}  {'num ns':>8}  {'den ns':>8}"
        f"  {'ratio':>6}  {'median':>6}  {'target':>7}  result"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for r in results:
        lines.append(
            f"{r.case.name:<10}  {r.case.title:<{title_width}}  {r.numerator_ns:>8.1f}"
            f"  {r.denominator_ns:>8.1f}  {r.ratio:>6.2f}  {r.median_ratio:>6.2f}"
            f"  {r.case.rule:>7}  {'PASS' if r.passed else 'MISS'}"
        )
    if blinker is None:
        lines.append("cases 2, 5-10 skipped: blinker is not installed (pip install blinker==1.9.0)")
    return "\n".join(lines)


COLD_TARGET = 1.1
COLD_RECEIVERS = 20
COLD_SENDS: tuple[tuple[str, dict[str, t.Any]], ...] = (
    ("app", {}),
    ("package_show", {"context": {}, "data_dict": {}}),
    ("package_show", {"context": {}, "data_dict": {}, "result": {}}),
    ("package_show", {"context": {}, "data_dict": {}, "result": {}}),
    ("app", {"response": None}),
)
"""(sender, keyword arguments) of each send of a ``package_show`` request."""


def _plain_send(
    receivers: tuple[c.Callable[..., t.Any], ...], sender: t.Any, **kwargs: t.Any
) -> list[tuple[t.Any, t.Any]]:
    return [(receiver, receiver(sender, **kwargs)) for receiver in receivers]


def cold_requests() -> dict[str, c.Callable[[], None]]:
    """One request's five sends, for each contender, each signal with
    :data:`COLD_RECEIVERS` receivers of its own (kept alive by the closures)."""
    kept = [
        tuple(_make_receiver(s * COLD_RECEIVERS + i) for i in range(COLD_RECEIVERS))
        for s in range(len(COLD_SENDS))
    ]
    ours = [Signal(policy="isolate") for _ in COLD_SENDS]
    for sig, receivers in zip(ours, kept, strict=True):
        for receiver in receivers:
            sig.connect(receiver, weak=False)
    # The signals, not their bound sends: a send is looked up at each call, as
    # the portal does (the generated one is installed after the first sends).
    sends = [(sig, sender, kwargs) for sig, (sender, kwargs) in zip(ours, COLD_SENDS, strict=True)]
    plain = [
        (receivers, sender, kwargs)
        for receivers, (sender, kwargs) in zip(kept, COLD_SENDS, strict=True)
    ]

    def heliograph() -> None:
        for sig, sender, kwargs in sends:
            sig.send(sender, **kwargs)

    def plain_loop() -> None:
        for receivers, sender, kwargs in plain:
            _plain_send(receivers, sender, **kwargs)

    contenders = {"heliograph": heliograph, "plain loop": plain_loop}
    if blinker is not None:
        theirs = [blinker.Signal() for _ in COLD_SENDS]
        for sig, receivers in zip(theirs, kept, strict=True):
            for receiver in receivers:
                sig.connect(receiver, weak=False)
        blinker_sends = [
            (sig, sender, kwargs) for sig, (sender, kwargs) in zip(theirs, COLD_SENDS, strict=True)
        ]

        def blinker_request() -> None:
            for sig, sender, kwargs in blinker_sends:
                sig.send(sender, **kwargs)

        contenders["blinker"] = blinker_request
    for request in contenders.values():  # tables made, sends generated
        for _ in range(5):
            request()
    for sig, receivers, (sender, kwargs) in zip(ours, kept, COLD_SENDS, strict=True):
        if [receiver for receiver, _ in sig.send(sender, **kwargs)] != list(receivers):
            raise AssertionError("the cold case's signals do not call the plain loop's receivers")
    return contenders


def measure_cold(rounds: int) -> dict[str, float]:
    """Median microseconds of one request per contender, caches flushed
    before each; the contenders take turns, in a rotated order."""
    import hashlib

    contenders = cold_requests()
    blob = bytes(16 * 1024 * 1024)
    walked = [object() for _ in range(200_000)]

    def flush() -> None:
        hashlib.sha256(blob).digest()
        for _item in walked[::7]:
            pass

    times: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    clock = time.perf_counter
    for number in range(rounds):
        turn = names[number % len(names) :] + names[: number % len(names)]
        for name in turn:
            request = contenders[name]
            flush()
            started = clock()
            request()
            times[name].append(clock() - started)
    return {name: statistics.median(found) * 1e6 for name, found in times.items()}


def format_cold(cold: dict[str, float]) -> tuple[str, bool]:
    ratio = cold["heliograph"] / cold["plain loop"]
    passed = ratio <= COLD_TARGET
    others = "".join(
        f", {name} {cold[name]:.1f} us" for name in cold if name not in ("heliograph",)
    )
    return (
        f"cold caches, a package_show's 5 sends to {COLD_RECEIVERS} receivers each: "
        f"heliograph {cold['heliograph']:.1f} us{others}; heliograph / plain loop "
        f"{ratio:.2f} (target <= {COLD_TARGET:g}) {'PASS' if passed else 'MISS'}"
    ), passed


def format_memory(memory: list[Memory]) -> str:
    lines = [
        f"{'memory per receiver':<28}  {'heliograph B':>12}  {'blinker B':>9}"
        f"  {'ratio':>6}  {'target':>7}  result"
    ]
    for m in memory:
        lines.append(
            f"{m.what:<28}  {m.heliograph:>12.0f}  {m.blinker:>9.0f}  {m.ratio:>6.2f}"
            f"  {'<= ' + format(m.target, 'g'):>7}  {'PASS' if m.passed else 'MISS'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="heliograph dispatch benchmark (ratios, one run)")
    parser.add_argument("--quick", action="store_true", help="few short rounds (rough)")
    parser.add_argument(
        "--rounds", type=int, help=f"rounds of interleaved timings ({DEFAULT_ROUNDS})"
    )
    parser.add_argument("--slice", type=float, help=f"seconds per timing ({DEFAULT_SLICE})")
    parser.add_argument("--number", type=int, help="fixed iterations per timing (no calibration)")
    parser.add_argument("--check", action="store_true", help="exit 1 if any target is missed")
    parser.add_argument(
        "--cold-rounds", type=int, help="requests per contender of the cold case (600)"
    )
    parser.add_argument(
        "--bulk", type=int, default=BULK, help=f"receivers of the bulk cases and memory ({BULK})"
    )
    args = parser.parse_args(argv)
    rounds = args.rounds or (7 if args.quick else DEFAULT_ROUNDS)
    slice_seconds = args.slice or (0.01 if args.quick else DEFAULT_SLICE)

    gc.collect()
    start = time.perf_counter()
    timings, results = run(rounds, slice_seconds, args.number, args.bulk)
    memory = measure_memory(args.bulk)
    cold_rounds = args.cold_rounds or (60 if args.quick else 600)
    cold_text, cold_passed = format_cold(measure_cold(cold_rounds))
    elapsed = time.perf_counter() - start
    print(
        f"heliograph dispatch benchmark: Python {sys.version.split()[0]}, "
        f"blinker {_blinker_version()}, "
        f"{rounds} interleaved rounds, {elapsed:.1f} s"
    )
    print(f"every call: send({CALL_ARGS.replace('SENDER', repr(SENDER))})")
    print()
    print(format_report(timings, results))
    if memory:
        print()
        print(format_memory(memory))
    print()
    print(cold_text)
    missed = [r.case.name for r in results if not r.passed]
    missed += [] if cold_passed else ["cold caches"]
    missed += [f"memory {m.what}" for m in memory if not m.passed]
    print()
    print(f"missed: {', '.join(missed)}" if missed else "all targets met")
    return 1 if args.check and missed else 0


def _blinker_version() -> str:
    if blinker is None:
        return "absent"
    from importlib.metadata import version

    return version("blinker")


if __name__ == "__main__":
    sys.exit(main())
