"""Fixtures for the plugin tests.

The pytester-based tests declare ``pytest_plugins = ['pytester']`` in their
own module: pytest refuses that variable in a conftest below the root one.
"""

from __future__ import annotations

import pytest

import heliograph.plugins as p
from tests.plugins.plugin_samples import SAMPLES


@pytest.fixture
def samples() -> dict[str, type[p.Plugin]]:
    """Register the sample plugins for this test (the pytest plugin forgets them after)."""
    for name, cls in SAMPLES.items():
        p.register(name, cls)
    return SAMPLES
