"""Deleted resources keep no datastore data, and resources carry ``datastore_active``."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest

import heliograph.plugins.toolkit as tk
from heliograph.ext.datastore import backend
from heliograph.logic import ObjectNotFound, ValidationError

Call = c.Callable[..., t.Any]


def _has_table(resource_id: str) -> bool:
    store = backend.get_backend()
    with store.connect(read_only=True) as conn:
        return store.table(conn, resource_id) is not None


def test_resource_delete_drops_its_table(call: Call, table: str) -> None:
    assert call("datastore_search", {"resource_id": table})["total"] == 3
    sends: list[t.Any] = []
    with tk.signals.datastore_delete.connected_to(lambda sender, **kw: sends.append(sender)):
        call("resource_delete", {"id": table}, user="editor")
    assert not _has_table(table)
    assert sends == []  # as CKAN: dropping a deleted resource's table sends nothing
    for action in ("datastore_search", "datastore_info"):
        with pytest.raises(ObjectNotFound):
            call(action, {"resource_id": table})


def test_package_delete_drops_the_tables_of_its_resources(
    call: Call, store_dataset: dict[str, t.Any], table: str
) -> None:
    other = store_dataset["resources"][1]["id"]
    call(
        "datastore_create",
        {"resource_id": other, "force": True, "records": [{"a": 1}]},
        user="editor",
    )
    call("package_delete", {"id": store_dataset["id"]}, user="editor")
    assert not _has_table(table) and not _has_table(other)
    with pytest.raises(ObjectNotFound):
        call("datastore_search", {"resource_id": table}, user="sysadmin")


def test_a_resource_removed_by_package_update_is_never_served(
    call: Call, store_dataset: dict[str, t.Any], table: str
) -> None:
    shown = call("package_show", {"id": store_dataset["id"]})
    kept = [r for r in shown["resources"] if r["id"] != table]
    call("package_update", {**shown, "resources": kept}, user="editor")
    for user in (None, "editor", "sysadmin"):
        with pytest.raises(ObjectNotFound):
            call("datastore_search", {"resource_id": table}, user=user)
        with pytest.raises(ObjectNotFound):
            call("datastore_info", {"resource_id": table}, user=user)


def test_a_vetoed_delete_keeps_the_table(call: Call, table: str) -> None:
    def veto(sender: str, **kwargs: t.Any) -> None:
        raise ValidationError({"id": ["not today"]})

    with (
        tk.signals.action_succeeded.connected_to(veto, sender="resource_delete"),
        pytest.raises(ValidationError),
    ):
        call("resource_delete", {"id": table}, user="editor")
    assert _has_table(table)
    assert call("datastore_search", {"resource_id": table})["total"] == 3


def test_datastore_active_follows_the_table(
    call: Call, rid: str, store_dataset: dict[str, t.Any]
) -> None:
    def active() -> list[bool]:
        shown = call("package_show", {"id": store_dataset["id"]})
        assert (
            call("resource_show", {"id": rid})["datastore_active"]
            == shown["resources"][0]["datastore_active"]
        )
        return [r["datastore_active"] for r in shown["resources"]]

    assert active() == [False, False]
    call("datastore_create", {"resource_id": rid, "records": [{"a": 1}]}, user="editor")
    assert active() == [True, False]
    resource = call("resource_show", {"id": rid})
    del resource["datastore_active"]
    call("resource_update", {**resource, "name": "renamed"}, user="editor")
    assert active() == [True, False]  # an edit that leaves it out keeps it
    call("datastore_delete", {"resource_id": rid, "filters": {}}, user="editor")
    assert active() == [True, False]  # rows deleted, table kept
    call("datastore_delete", {"resource_id": rid}, user="editor")
    assert active() == [False, False]


def test_datastore_create_with_a_resource_marks_it_active(
    call: Call, store_dataset: dict[str, t.Any]
) -> None:
    created = call(
        "datastore_create",
        {"resource": {"package_id": store_dataset["id"], "name": "new"}, "records": [{"a": 1}]},
        user="editor",
    )
    assert call("resource_show", {"id": created["resource_id"]})["datastore_active"] is True
