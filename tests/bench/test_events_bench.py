"""Smoke test of bench/events.py: the embedded measurement delivers every
committed event and reports a rate (tiny counts, so the figure means nothing)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

BENCH = "events.py"  # loaded by the suite's ``bench`` fixture


def test_embedded_rate_delivers_every_committed_event(bench: ModuleType, tmp_path: Path) -> None:
    rate = bench.embedded_rate("sqlite", 60, str(tmp_path))
    assert rate > 0
    assert len(bench.RECEIVED) == 60


def test_percentile_reads_the_sorted_values(bench: ModuleType) -> None:
    values = [float(n) for n in range(1, 101)]
    assert bench.percentile(values, 50) == 51.0
    assert bench.percentile(values, 99) == 99.0
    assert bench.percentile([], 99) != bench.percentile([], 99)  # NaN when nothing was measured
