"""Smoke test of bench/metrics.py: it runs, reports its three ratios and
leaves no receiver observer behind. Tiny counts: the figures mean nothing."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from heliograph import signals

BENCH = "metrics.py"  # loaded by the suite's ``bench`` fixture


def test_report_prints_three_ratios_and_leaves_timing_off(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--rounds", "2", "--number", "100"]) == 0
    out = capsys.readouterr().out
    for label in (
        "send to 5, Prometheus observer / no observer",
        "send to 5, no-op observer / no observer",
        "status_show request, timing on / off",
    ):
        line = next(line for line in out.splitlines() if line.startswith(label))
        ratios = re.findall(r"\d+\.\d+", line)
        assert len(ratios) == 4, line
    assert signals.settings()["receiver_observer"] is None
