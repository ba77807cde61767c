"""Smoke test of bench/datastore.py: it runs and reports a ratio per engine.

One round, so the figures mean nothing; nothing here asserts on timing.
"""

from __future__ import annotations

import collections.abc as c
import math
from types import ModuleType

import pytest

BENCH = "datastore.py"  # loaded by the suite's ``bench`` fixture


@pytest.fixture
def saved_config() -> c.Iterator[None]:
    """The bench builds a portal, which fills the shared configuration object."""
    from heliograph.config import config

    saved = dict(config)
    yield
    config.replace(saved)


def test_sqlite_reports_a_ratio(bench: ModuleType, saved_config: None) -> None:
    (result,) = bench.run(["sqlite"], rounds=1)
    assert result.engine == "sqlite"
    assert math.isfinite(result.ratio) and result.ratio > 0
    assert isinstance(result.passed, bool)
