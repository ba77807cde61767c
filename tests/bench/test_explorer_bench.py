"""Smoke test of bench/explorer.py: it runs on a small PostgreSQL table and
reports every figure. One repeat, so the figures mean nothing; nothing here
asserts on timing."""

from __future__ import annotations

import collections.abc as c
import math
from types import ModuleType

import pytest

from tests.helpers import require_service

BENCH = "explorer.py"  # loaded by the suite's ``bench`` fixture


@pytest.fixture
def saved_config() -> c.Iterator[None]:
    """The bench builds a portal, which fills the shared configuration object."""
    from heliograph.config import config

    saved = dict(config)
    yield
    config.replace(saved)


def test_reports_every_figure_in_milliseconds(bench: ModuleType, saved_config: None) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    figures = bench.run(rows=2_000, repeats=1)
    names = [name for name, _ms in figures]
    assert names[0].startswith("raw SELECT")
    assert "page: first rows" in names and "page: page 100" in names
    assert any("indexed" in name for name in names)
    assert all(math.isfinite(ms) and ms > 0 for _name, ms in figures)
