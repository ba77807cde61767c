"""Fixtures for the activity extension: its tables migrated beside the portal's,
the plugin loaded, an organization with roles, and a helper to read the
recorded activities straight from the table."""

from __future__ import annotations

import collections.abc as c
import json
import typing as t

import pytest
import sqlalchemy as sa

from heliograph import logic, model
from heliograph.ext.activity import tables
from heliograph.model.migrate import upgrade_plugins

Call = c.Callable[..., t.Any]


@pytest.fixture
def activity_tables(db: sa.Engine) -> c.Iterator[sa.Engine]:
    """The plugin's tables on this test's database (through its migrations),
    emptied afterwards."""
    upgrade_plugins(db, ["activity"])
    yield db
    model.Session.remove()
    with db.begin() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(autouse=True)
def activity_plugin(activity_tables: sa.Engine, with_plugins: t.Any) -> c.Iterator[None]:
    """The ``activity`` plugin loaded for the test (strict mode: failures raise,
    the argument guard is on)."""
    with_plugins("activity")
    logic.registry.reset()
    yield
    logic.registry.reset()


class Recorded(t.NamedTuple):
    user_id: str | None
    object_id: str
    activity_type: str
    data: dict[str, t.Any]


@pytest.fixture
def recorded(activity_tables: sa.Engine) -> c.Callable[[], list[Recorded]]:
    """The activities as committed, oldest first, read on a connection of
    their own (so only what the action's transaction committed is seen)."""

    def read() -> list[Recorded]:
        query = sa.select(
            tables.activity.c.user_id,
            tables.activity.c.object_id,
            tables.activity.c.activity_type,
            tables.activity.c.data,
        ).order_by(tables.activity.c.timestamp, tables.activity.c.id)
        with activity_tables.connect() as conn:
            return [
                Recorded(row.user_id, row.object_id, row.activity_type, json.loads(row.data))
                for row in conn.execute(query)
            ]

    return read
