"""Fixtures for the datastore extension: a portal with people, a dataset with
resources, and a datastore database of its own for every test (a SQLite file
beside a SQLite portal, a fresh PostgreSQL schema beside a PostgreSQL one)."""

from __future__ import annotations

import collections.abc as c
import typing as t
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

import heliograph.plugins.toolkit as tk
from heliograph import logic
from heliograph.config import config
from heliograph.ext.datastore import backend
from tests.ext.datastore.datastore_helpers import FIELDS, RECORDS, Call


@pytest.fixture
def datastore_url(db: sa.Engine, tmp_path: Path) -> c.Iterator[str]:
    """The datastore database of this test, of the same kind as the portal's."""
    if db.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'datastore.db'}"
        backend.dispose_all()
        return
    schema = f"hg_ds_{uuid.uuid4().hex[:12]}"
    with db.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = db.url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        backend.dispose_all()
        with db.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(autouse=True)
def datastore(
    datastore_url: str, tmp_path: Path, with_plugins: t.Any
) -> c.Iterator[backend.Backend]:
    """The datastore plugin loaded, configured on this test's database."""
    saved = dict(config)
    tk.config.update(
        {"heliograph.datastore.url": datastore_url, "heliograph.instance_path": str(tmp_path)}
    )
    logic.registry.reset()
    with_plugins("datastore")
    yield backend.get_backend()
    config.replace(saved)
    logic.registry.reset()


DATASTORE_RESOURCES = [
    {"url": "http://example.org/a.csv", "url_type": "datastore", "name": "A"},
    {"url": "http://example.org/b.csv", "name": "read-only"},
]
"""A writable (``url_type='datastore'``) resource, then a read-only one."""


@pytest.fixture
def store_dataset(make_dataset: c.Callable[..., dict[str, t.Any]]) -> dict[str, t.Any]:
    """Public dataset ``sunspots`` with :data:`DATASTORE_RESOURCES`."""
    return make_dataset(name="sunspots", private=False, resources=DATASTORE_RESOURCES)


@pytest.fixture
def private_store_dataset(make_dataset: c.Callable[..., dict[str, t.Any]]) -> dict[str, t.Any]:
    """Private dataset ``flares`` with :data:`DATASTORE_RESOURCES`."""
    return make_dataset(name="flares", private=True, resources=DATASTORE_RESOURCES)


@pytest.fixture
def rid(store_dataset: dict[str, t.Any]) -> str:
    """A writable resource (``url_type='datastore'``) of the public dataset."""
    return t.cast(str, store_dataset["resources"][0]["id"])


@pytest.fixture
def readonly_rid(store_dataset: dict[str, t.Any]) -> str:
    return t.cast(str, store_dataset["resources"][1]["id"])


@pytest.fixture
def table(call: Call, rid: str) -> str:
    """``rid``'s table with FIELDS, primary key ``id`` and RECORDS."""
    call(
        "datastore_create",
        {"resource_id": rid, "fields": FIELDS, "primary_key": ["id"], "records": RECORDS},
        user="editor",
    )
    return rid
