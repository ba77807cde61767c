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

Call = c.Callable[..., t.Any]


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


def _dataset(call: Call, org: dict[str, t.Any], name: str, private: bool) -> dict[str, t.Any]:
    return t.cast(
        dict[str, t.Any],
        call(
            "package_create",
            {
                "name": name,
                "owner_org": org["id"],
                "private": private,
                "resources": [
                    {"url": "http://example.org/a.csv", "url_type": "datastore", "name": "A"},
                    {"url": "http://example.org/b.csv", "name": "read-only"},
                ],
            },
            user="editor",
        ),
    )


@pytest.fixture
def dataset(call: Call, org: dict[str, t.Any]) -> dict[str, t.Any]:
    return _dataset(call, org, "sunspots", private=False)


@pytest.fixture
def private_dataset(call: Call, org: dict[str, t.Any]) -> dict[str, t.Any]:
    return _dataset(call, org, "flares", private=True)


@pytest.fixture
def rid(dataset: dict[str, t.Any]) -> str:
    """A writable resource (``url_type='datastore'``) of the public dataset."""
    return t.cast(str, dataset["resources"][0]["id"])


@pytest.fixture
def readonly_rid(dataset: dict[str, t.Any]) -> str:
    return t.cast(str, dataset["resources"][1]["id"])


FIELDS = [
    {"id": "id", "type": "int"},
    {"id": "name", "type": "text"},
    {"id": "reading", "type": "float"},
    {"id": "amount", "type": "numeric"},
    {"id": "valid", "type": "bool"},
    {"id": "day", "type": "date"},
    {"id": "seen", "type": "timestamp"},
    {"id": "extra", "type": "json"},
]

RECORDS = [
    {
        "id": 1,
        "name": "Sunspot over the ridge",
        "reading": 1.5,
        "amount": "10.25",
        "valid": True,
        "day": "2024-05-01",
        "seen": "2024-05-01T12:00:00",
        "extra": {"tags": ["a", "b"]},
    },
    {
        "id": 2,
        "name": "Solar flares in the morning",
        "reading": 2.0,
        "amount": 3,
        "valid": False,
        "day": "2024-05-02",
        "seen": "2024-05-02T08:30:00",
        "extra": [1, 2],
    },
    {
        "id": 3,
        "name": "Quiet day",
        "reading": None,
        "amount": None,
        "valid": None,
        "day": None,
        "seen": None,
        "extra": None,
    },
]


@pytest.fixture
def table(call: Call, rid: str) -> str:
    """``rid``'s table with FIELDS, primary key ``id`` and RECORDS."""
    call(
        "datastore_create",
        {"resource_id": rid, "fields": FIELDS, "primary_key": ["id"], "records": RECORDS},
        user="editor",
    )
    return rid
