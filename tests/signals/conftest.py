"""Fixtures for the dispatch core tests.

Every test starts from the production switches (failures isolated, argument
guard off), whatever a plugin or an earlier test set, and gets them back
as they were afterwards.
"""

from __future__ import annotations

import pytest

from heliograph import signals
from tests.signals.signal_helpers import Calls


@pytest.fixture(autouse=True)
def _every_test_under_production_switches(production_switches: None) -> None:
    """Applies the suite's ``production_switches`` fixture to every test here."""


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def sig() -> signals.Signal:
    """A fresh signal with the default ('raise') policy."""
    return signals.Signal()


@pytest.fixture
def isolating() -> signals.NamedSignal:
    """A fresh named signal with the 'isolate' policy, outside every namespace."""
    return signals.NamedSignal("test_isolating", policy=signals.ISOLATE)
