"""Fixtures for tests of ``heliograph.lib``: the catalog signals are process-global."""

from __future__ import annotations

import collections.abc as c

import pytest

from heliograph.lib import signals as lib_signals


@pytest.fixture(autouse=True)
def _every_test_under_production_switches(production_switches: None) -> None:
    """Applies the suite's ``production_switches`` fixture to every test here."""


@pytest.fixture
def fresh_ckanext_names() -> c.Iterator[list[str]]:
    """Names a test creates in ``ckanext``; removed from the namespace afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        lib_signals.ckanext.pop(name, None)
