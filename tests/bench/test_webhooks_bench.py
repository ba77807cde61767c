"""Smoke test of bench/webhooks.py: its measurements deliver every event to
its receiver and report rates (tiny counts, so the figures mean nothing)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

BENCH = "webhooks.py"  # loaded by the suite's ``bench`` fixture


def test_the_bench_measures_deliveries_and_the_update_overhead(
    bench: ModuleType, tmp_path: Path
) -> None:
    receiver, port = bench.start_receiver()
    portal = bench.Portal("sqlite", str(tmp_path), port)
    try:
        rate, delivered = bench.delivery_rate(portal, 3, 4)
        assert delivered == 12 and rate > 0
        assert bench.plain_rate(portal, 3, 4) > 0
        found = bench.overhead(portal, 2, 1)
        assert found["hooks"] > 0 and found["none"] > 0 and found["bare"] > 0
        assert found["ratio"] > 0
    finally:
        portal.close()
        receiver.kill()
        receiver.wait()
