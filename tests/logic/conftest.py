"""Fixtures for the logic layer: people with roles, an organization, a caller."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest

from heliograph import logic
from heliograph.config import config
from heliograph.lib import signals

Call = c.Callable[..., t.Any]


@pytest.fixture(autouse=True)
def _fresh_registry_and_settings() -> c.Iterator[None]:
    """Every test starts on the core registry and on the declared defaults."""
    saved = dict(config)
    config.clear()
    logic.registry.reset()
    yield
    config.replace(saved)
    logic.registry.reset()


@pytest.fixture
def setting() -> c.Callable[[str, t.Any], None]:
    """Set a configuration value for this test (restored afterwards)."""

    def set_(key: str, value: t.Any) -> None:
        config[key] = value

    return set_


@pytest.fixture
def sent() -> c.Iterator[list[tuple[t.Any, dict[str, t.Any]]]]:
    """The ``action_succeeded`` sends, as (sender, kwargs), while the test runs."""
    record: list[tuple[t.Any, dict[str, t.Any]]] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        record.append((sender, kwargs))

    with signals.action_succeeded.connected_to(receiver):
        yield record
