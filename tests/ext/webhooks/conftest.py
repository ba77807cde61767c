"""Fixtures for the webhooks: the plugin's tables and the plugin loaded, a real
HTTP receiver on loopback that records every request and answers as a test
scripts it, the settings a test needs (loopback allowed for the receiver only,
http allowed, the retry schedule compressed), and a worker on the test database."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest
import sqlalchemy as sa

import heliograph.plugins.toolkit as tk
from heliograph import events, logic, model
from heliograph.events import Worker
from heliograph.ext.webhooks import delivery, tables
from heliograph.model.migrate import upgrade_plugins
from tests.ext.webhooks.webhook_helpers import Receiver

Call = c.Callable[..., t.Any]


@pytest.fixture
def receiver() -> c.Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def webhook_tables(db: sa.Engine) -> c.Iterator[sa.Engine]:
    """The plugin's tables on this test's database (through its migrations),
    emptied afterwards."""
    upgrade_plugins(db, ["webhooks"])
    yield db
    delivery.flush_log()
    model.Session.remove()
    with db.begin() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            conn.execute(table.delete())


SETTINGS = {
    "heliograph.webhooks.allow_http": "true",
    "heliograph.webhooks.allowed_networks": "127.0.0.1/32",
    "heliograph.webhooks.retry_scale": "0",
    "heliograph.webhooks.timeout_seconds": "2",
}


@pytest.fixture
def webhook_config(tmp_path: t.Any) -> c.Iterator[dict[str, t.Any]]:
    """The settings of the tests (changed by a test as it needs), put back afterwards."""
    before = dict(tk.config)
    tk.config.update(SETTINGS)
    tk.config["heliograph.mail_folder"] = str(tmp_path / "mail")
    tk.config.setdefault("heliograph.site_url", "http://127.0.0.1:5000")
    yield tk.config
    tk.config.clear()
    tk.config.update(before)


@pytest.fixture(autouse=True)
def webhooks_plugin(
    webhook_tables: sa.Engine, webhook_config: dict[str, t.Any], with_plugins: t.Any
) -> c.Iterator[None]:
    with_plugins("webhooks")
    logic.registry.reset()
    delivery._hooks.forget()
    yield
    delivery.flush_log()
    logic.registry.reset()


@pytest.fixture
def worker(db: sa.Engine) -> c.Iterator[Worker]:
    before = events.EventSettings(**vars(events.settings))
    yield Worker(db)
    for name, value in vars(before).items():
        setattr(events.settings, name, value)
