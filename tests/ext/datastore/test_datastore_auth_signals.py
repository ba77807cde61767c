"""Auth follows the resource's dataset; the ckanext signals are sent after success only."""

from __future__ import annotations

import typing as t

import pytest

import heliograph.plugins.toolkit as tk
from heliograph.logic import NotAuthorized, ValidationError
from tests.ext.datastore.datastore_helpers import FIELDS

Call = t.Callable[..., t.Any]


@pytest.mark.parametrize("user", ["editor", "admin", "sysadmin"])
def test_editors_of_the_organization_write(call: Call, rid: str, user: str) -> None:
    call("datastore_create", {"resource_id": rid, "fields": FIELDS}, user=user)
    call(
        "datastore_upsert",
        {"resource_id": rid, "method": "insert", "records": [{"id": 1}]},
        user=user,
    )
    call("datastore_delete", {"resource_id": rid, "filters": {}}, user=user)


@pytest.mark.parametrize("user", [None, "member", "outsider"])
def test_others_cannot_write(call: Call, table: str, user: str | None) -> None:
    for name, data in [
        ("datastore_create", {"fields": FIELDS}),
        ("datastore_upsert", {"records": [{"id": 1, "name": "x"}]}),
        ("datastore_delete", {}),
    ]:
        with pytest.raises(NotAuthorized):
            call(name, {"resource_id": table, **data}, user=user)
    assert call("datastore_search", {"resource_id": table})["total"] == 3


@pytest.mark.parametrize("user", [None, "member", "outsider", "editor"])
def test_anyone_who_sees_a_public_dataset_reads(call: Call, table: str, user: str | None) -> None:
    assert call("datastore_search", {"resource_id": table}, user=user)["total"] == 3
    assert call("datastore_info", {"id": table}, user=user)["meta"]["count"] == 3


def test_a_private_dataset_is_read_by_its_organization_only(
    call: Call, private_store_dataset: dict[str, t.Any]
) -> None:
    rid = private_store_dataset["resources"][0]["id"]
    call("datastore_create", {"resource_id": rid, "fields": FIELDS}, user="editor")
    assert call("datastore_search", {"resource_id": rid}, user="member")["total"] == 0
    for user in (None, "outsider"):
        with pytest.raises(NotAuthorized):
            call("datastore_search", {"resource_id": rid}, user=user)
        with pytest.raises(NotAuthorized):
            call("datastore_info", {"id": rid}, user=user)


def test_upsert_sends_datastore_upsert_with_the_records(
    call: Call, table: str, signal_recorder: t.Any
) -> None:
    signal_recorder.record(tk.signals.datastore_upsert)
    sent = []
    for method, records in [
        ("upsert", [{"id": 5, "name": "five"}]),
        ("insert", [{"id": 6}]),
        ("update", [{"id": 6, "name": "six"}]),
    ]:
        call(
            "datastore_upsert",
            {"resource_id": table, "records": records, "method": method},
            user="editor",
        )
        sent.append(records)
    calls = signal_recorder.calls(tk.signals.datastore_upsert)
    assert [(c.sender, c.kwargs) for c in calls] == [(table, {"records": r}) for r in sent]


def test_failed_writes_send_nothing(call: Call, table: str, signal_recorder: t.Any) -> None:
    signal_recorder.record(tk.signals.datastore_upsert)
    signal_recorder.record(tk.signals.datastore_delete)
    with pytest.raises(ValidationError):
        call("datastore_upsert", {"resource_id": table, "records": [{"id": "x"}]}, user="editor")
    with pytest.raises(ValidationError):
        call(
            "datastore_upsert",
            {"resource_id": table, "method": "insert", "records": [{"id": 1}]},
            user="editor",
        )
    with pytest.raises(NotAuthorized):
        call("datastore_upsert", {"resource_id": table, "records": []}, user="member")
    with pytest.raises(ValidationError):
        call("datastore_delete", {"resource_id": table, "filters": {"x": 1}}, user="editor")
    signal_recorder.assert_not_sent(tk.signals.datastore_upsert)
    signal_recorder.assert_not_sent(tk.signals.datastore_delete)


def test_create_sends_no_datastore_upsert(call: Call, table: str, signal_recorder: t.Any) -> None:
    signal_recorder.record(tk.signals.datastore_upsert)
    call("datastore_create", {"resource_id": table, "records": [{"id": 9}]}, user="editor")
    signal_recorder.assert_not_sent(tk.signals.datastore_upsert)


@pytest.mark.parametrize("filters", [None, {}, {"id": 1}])
def test_delete_sends_datastore_delete_with_result_and_data_dict(
    call: Call, table: str, filters: dict[str, t.Any] | None
) -> None:
    received: list[tuple[t.Any, dict[str, t.Any]]] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        received.append((sender, kwargs))

    data: dict[str, t.Any] = {"resource_id": table}
    if filters is not None:
        data["filters"] = filters
    with tk.signals.datastore_delete.connected_to(receiver):
        result = call("datastore_delete", data, user="editor")
    assert received == [(table, {"result": result, "data_dict": result})]
    assert result == data


def test_the_upsert_signal_comes_after_the_commit(call: Call, table: str) -> None:
    seen: list[int] = []

    def receiver(sender: str, **kwargs: t.Any) -> None:
        seen.append(call("datastore_search", {"resource_id": sender})["total"])

    with tk.signals.datastore_upsert.connected_to(receiver):
        call("datastore_upsert", {"resource_id": table, "records": [{"id": 4}]}, user="editor")
    assert seen == [4]
