"""Fixtures for tests of ``heliograph.lib``: the catalog signals are process-global."""

from __future__ import annotations

import collections.abc as c

import pytest

from heliograph import signals
from heliograph.lib import signals as lib_signals


@pytest.fixture(autouse=True)
def production_switches() -> c.Iterator[None]:
    before = signals.settings()
    signals.isolate_failures(True)
    signals.guard_arguments(False)
    yield
    signals.isolate_failures(before["isolate_failures"])
    signals.guard_arguments(before["guard_arguments"])


@pytest.fixture
def fresh_ckanext_names() -> c.Iterator[list[str]]:
    """Names a test creates in ``ckanext``; removed from the namespace afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        lib_signals.ckanext.pop(name, None)
