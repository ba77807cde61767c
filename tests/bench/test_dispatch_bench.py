"""Smoke test of bench/dispatch.py: it runs and reports every ratio.

Tiny iteration counts, so the figures mean nothing: nothing here asserts on
timing (the benchmark itself is the place to read them).
"""

from __future__ import annotations

import math
from types import ModuleType

import pytest

BENCH = "dispatch.py"  # loaded by the suite's ``bench`` fixture


def test_every_case_reports_a_ratio_for_both_policies(bench: ModuleType) -> None:
    timings, results = bench.run(rounds=2, number=20)

    expected = {f"{n}/{policy}" for n in (1, 3, 4) for policy in ("raise", "isolate")}
    if bench.blinker is not None:
        expected |= {"2/raise", "2/isolate"}
    assert {r.case.name for r in results} == expected
    for r in results:
        assert r.case.numerator in timings
        assert r.case.denominator in timings
        for value in (r.ratio, r.median_ratio, r.numerator_ns, r.denominator_ns):
            assert isinstance(value, float)
            assert math.isfinite(value)
        assert isinstance(r.passed, bool)


def test_every_contender_of_a_case_does_the_same_work(bench: ModuleType) -> None:
    bench.build_namespace()  # raises AssertionError when results differ


def test_report_prints_and_exits_zero_without_check(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--rounds", "1", "--number", "5"]) == 0

    out = capsys.readouterr().out
    assert "1/raise" in out
    assert "4/isolate" in out
