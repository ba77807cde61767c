"""Smoke test of bench/dispatch.py: it runs and reports every ratio.

Tiny iteration counts, so the figures mean nothing: nothing here asserts on
timing (the benchmark itself is the place to read them).
"""

from __future__ import annotations

import math
from types import ModuleType

import pytest

BENCH = "dispatch.py"  # loaded by the suite's ``bench`` fixture


def test_every_case_reports_a_ratio(bench: ModuleType) -> None:
    timings, results = bench.run(rounds=2, number=20, bulk_size=20)

    expected = {f"{n}/{policy}" for n in (1, 3, 4, 11) for policy in ("raise", "isolate")}
    if bench.blinker is not None:
        expected |= {"2/raise", "2/isolate"} | {f"{n}/raise" for n in range(5, 11)}
    assert {r.case.name for r in results} == expected
    for r in results:
        assert r.case.numerator in timings
        assert r.case.denominator in timings
        for value in (r.ratio, r.median_ratio, r.numerator_ns, r.denominator_ns):
            assert isinstance(value, float)
            assert math.isfinite(value)
        assert isinstance(r.passed, bool)


def test_every_contender_of_a_case_does_the_same_work(bench: ModuleType) -> None:
    bench.build_namespace(bulk_size=50)  # raises AssertionError when results differ


def test_the_observed_contender_runs_with_an_observer_and_the_others_without(
    bench: ModuleType,
) -> None:
    from heliograph import signals

    seen: list[str] = []
    bench.observe_nothing, original = (lambda *a: seen.append("observed")), bench.observe_nothing
    try:
        bench.run(rounds=1, number=2, bulk_size=10)
    finally:
        bench.observe_nothing = original
    assert seen  # the observed contender's sends were timed
    assert signals.settings()["receiver_observer"] is None  # and nothing else was


def test_memory_per_receiver_is_measured_for_both_shapes(bench: ModuleType) -> None:
    memory = bench.measure_memory(200)
    if bench.blinker is None:
        assert memory == []
        return
    assert [m.what for m in memory] == ["for ANY", "a sender each"]
    for m in memory:
        assert m.heliograph > 0 and m.blinker > 0
        assert math.isfinite(m.ratio)


def test_report_prints_and_exits_zero_without_check(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--rounds", "1", "--number", "5", "--bulk", "20", "--cold-rounds", "2"]) == 0

    out = capsys.readouterr().out
    assert "1/raise" in out
    assert "4/isolate" in out
    assert "11/isolate" in out
    assert "cold caches" in out and "heliograph / plain loop" in out
    if bench.blinker is not None:
        assert "9/raise" in out
        assert "memory per receiver" in out


def test_the_cold_case_times_each_contender_doing_the_same_sends(bench: ModuleType) -> None:
    contenders = bench.cold_requests()  # raises AssertionError when the receivers differ
    expected = {"heliograph", "plain loop"} | ({"blinker"} if bench.blinker is not None else set())
    assert set(contenders) == expected
    cold = bench.measure_cold(2)
    assert set(cold) == expected and all(value > 0 for value in cold.values())
    text, passed = bench.format_cold(cold)
    assert "heliograph / plain loop" in text and isinstance(passed, bool)
