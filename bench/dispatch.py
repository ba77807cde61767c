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

Each case runs twice: with a plain ``Signal()`` (policy 'raise') and with
``Signal(policy='isolate')``.

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
import typing as t
from dataclasses import dataclass

if __package__ in (None, ""):  # run as a script from a checkout: find the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from heliograph.signals import ISOLATE, RAISE, Signal

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


def build_namespace() -> dict[str, t.Any]:
    """The objects the statements refer to, connected as each case needs."""
    ns: dict[str, t.Any] = {
        "SENDER": SENDER,
        "DATA": DATA,
        "plain_loop": plain_loop,
        "empty": empty,
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
    if blinker is not None:
        bl = blinker.Signal()
        for receiver in FIVE:
            bl.connect(receiver)
        ns["blinker_five"] = bl
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
    if "blinker_five" in ns:
        got = ns["blinker_five"].send(SENDER, user="alice", data=DATA)
        if sorted(got, key=lambda pair: pair[0].__name__) != expected_five:
            raise AssertionError(f"blinker returned {got!r}, expected {expected_five!r}")


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
        out[f"send, 5 ANY receivers [{policy}]"] = f"five_{policy}.send({CALL_ARGS})"
        out[f"send, no receiver [{policy}]"] = f"none_{policy}.send({CALL_ARGS})"
        out[f"send, 1 of 100 by sender [{policy}]"] = f"hundred_{policy}.send({CALL_ARGS})"
        out[f"send, 1 ANY receiver [{policy}]"] = f"single_{policy}.send({CALL_ARGS})"
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
) -> dict[str, Timing]:
    """Time every contender ``rounds`` times, interleaved round by round.

    ``number`` fixes the iteration count of every timing; without it each
    contender is calibrated so that one timing lasts about ``slice_seconds``.
    """
    ns = build_namespace()
    statements = contenders()
    labels = list(statements)
    timers = {label: timeit.Timer(stmt, globals=ns) for label, stmt in statements.items()}
    numbers = {
        label: number if number is not None else _calibrate(timer, slice_seconds)
        for label, timer in timers.items()
    }
    raw: dict[str, list[float]] = {label: [] for label in labels}
    for round_index in range(rounds):
        shift = round_index % len(labels)
        order = labels[shift:] + labels[:shift]
        if round_index % 2:
            order.reverse()
        for label in order:
            raw[label].append(timers[label].timeit(numbers[label]) / numbers[label])
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
) -> tuple[dict[str, Timing], list[Result]]:
    """Measure and evaluate; garbage collection is off while timing, as in timeit."""
    timings = measure(rounds, slice_seconds, number)
    return timings, evaluate(timings)


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
        lines.append("case 2 skipped: blinker is not installed (pip install blinker==1.9.0)")
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
    args = parser.parse_args(argv)
    rounds = args.rounds or (7 if args.quick else DEFAULT_ROUNDS)
    slice_seconds = args.slice or (0.01 if args.quick else DEFAULT_SLICE)

    gc.collect()
    start = time.perf_counter()
    timings, results = run(rounds, slice_seconds, args.number)
    elapsed = time.perf_counter() - start
    print(
        f"heliograph dispatch benchmark: Python {sys.version.split()[0]}, "
        f"blinker {_blinker_version()}, "
        f"{rounds} interleaved rounds, {elapsed:.1f} s"
    )
    print(f"every call: send({CALL_ARGS.replace('SENDER', repr(SENDER))})")
    print()
    print(format_report(timings, results))
    missed = [r.case.name for r in results if not r.passed]
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
