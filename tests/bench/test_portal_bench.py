"""Smoke test of bench/portal.py: both cases run real servers and report a ratio.

A couple of short rounds, so the figures mean nothing; nothing here asserts on
timing, only that each side served requests and the ratio comes from them.
"""

from __future__ import annotations

import collections.abc as c
import math
import statistics
from types import ModuleType

import pytest

BENCH = "portal.py"  # loaded by the suite's ``bench`` fixture


@pytest.fixture
def saved_config() -> c.Iterator[None]:
    """The bench seeds through a portal, which fills the shared configuration objects."""
    from heliograph.logic import settings
    from heliograph.plugins import toolkit

    saved_tk, saved_settings = dict(toolkit.config), dict(settings.config)
    yield
    toolkit.config.clear()
    toolkit.config.update(saved_tk)
    settings.config.replace(saved_settings)


def test_update_case_compares_the_activity_plugin_on_and_off(
    bench: ModuleType, saved_config: None
) -> None:
    off, on = bench.run(rounds=2, duration=0.2, warmup=0.1, case="update")
    assert (off.name, on.name) == ("off", "on")
    assert all(rate > 0 for rate in off.rates + on.rates) and len(on.rates) == 2
    assert off.activities is None  # no plugin, no activity table
    assert on.activities is not None and on.activities > 0
    text, met = bench.report(off, on, bench.UPDATE_TARGET)
    ratio = statistics.median(o / f for o, f in zip(on.rates, off.rates, strict=True))
    assert f"on / off: {ratio:.3f}" in text
    assert math.isfinite(ratio) and isinstance(met, bool)


def test_show_case_compares_bare_and_subscribed(bench: ModuleType, saved_config: None) -> None:
    bare, subscribed = bench.run(rounds=2, duration=0.2, warmup=0.1, clients=1)
    assert subscribed.receivers > 0 and bare.receivers == 0
    assert all(rate > 0 for rate in bare.rates + subscribed.rates)
    text, _met = bench.report(bare, subscribed)
    assert "subscribed / bare:" in text
