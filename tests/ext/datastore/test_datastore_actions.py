"""The datastore actions on SQLite and PostgreSQL: CKAN's parameters and results."""

from __future__ import annotations

import typing as t

import pytest

from tests.ext.datastore.datastore_helpers import FIELDS, RECORDS

Call = t.Callable[..., t.Any]


def search(call: Call, rid: str, **params: t.Any) -> dict[str, t.Any]:
    return t.cast(dict[str, t.Any], call("datastore_search", {"resource_id": rid, **params}))


def ids(result: dict[str, t.Any]) -> list[int]:
    return [r["id"] for r in result["records"]]


def test_create_returns_the_request_without_records_and_with_method_insert(
    call: Call, rid: str
) -> None:
    result = call(
        "datastore_create",
        {"resource_id": rid, "fields": FIELDS, "primary_key": "id", "records": RECORDS},
        user="editor",
    )
    assert "records" not in result
    assert result["method"] == "insert"
    assert result["resource_id"] == rid
    assert result["primary_key"] == ["id"]
    assert [f["id"] for f in result["fields"]] == [f["id"] for f in FIELDS]


def test_search_returns_typed_values_with_id_first(call: Call, table: str) -> None:
    result = search(call, table)
    assert result["total"] == 3
    assert result["total_was_estimated"] is False
    assert result["fields"][0] == {"id": "_id", "type": "int"}
    assert [f["id"] for f in result["fields"][1:]] == [f["id"] for f in FIELDS]
    first = result["records"][0]
    assert first == {
        "_id": 1,
        "id": 1,
        "name": "Sunspot over the ridge",
        "reading": 1.5,
        "amount": 10.25,
        "valid": True,
        "day": "2024-05-01",
        "seen": "2024-05-01T12:00:00",
        "extra": {"tags": ["a", "b"]},
    }
    assert result["records"][2]["valid"] is None


def test_types_are_guessed_from_the_first_record_when_omitted(call: Call, rid: str) -> None:
    result = call(
        "datastore_create",
        {
            "resource_id": rid,
            "fields": [{"id": "a"}],
            "records": [{"a": 1, "b": 2.5, "c": "12", "d": "1.5", "e": "2024-01-01", "f": "x"}],
        },
        user="editor",
    )
    types = {f["id"]: f["type"] for f in result["fields"]}
    assert types == {
        "a": "int",
        "b": "float",
        "c": "int",
        "d": "numeric",
        "e": "timestamp",
        "f": "text",
    }


def test_ckan_type_names_are_accepted(call: Call, rid: str) -> None:
    result = call(
        "datastore_create",
        {
            "resource_id": rid,
            "fields": [
                {"id": "a", "type": "int4"},
                {"id": "b", "type": "float8"},
                {"id": "c", "type": "boolean"},
                {"id": "d", "type": "Timestamp"},
            ],
        },
        user="editor",
    )
    assert [f["type"] for f in result["fields"]] == ["int", "float", "bool", "timestamp"]


def test_create_again_adds_fields_and_keeps_rows(call: Call, table: str) -> None:
    call(
        "datastore_create",
        {"resource_id": table, "fields": [{"id": "note", "type": "text", "info": {"label": "N"}}]},
        user="editor",
    )
    result = search(call, table, fields="id,note")
    assert result["total"] == 3
    assert result["fields"] == [
        {"id": "id", "type": "int"},
        {"id": "note", "type": "text", "info": {"label": "N"}},
    ]


def test_upsert_updates_by_primary_key_and_inserts_new_keys(call: Call, table: str) -> None:
    result = call(
        "datastore_upsert",
        {
            "resource_id": table,
            "records": [{"id": 2, "name": "Changed"}, {"id": 4, "name": "New"}],
        },
        user="editor",
    )
    assert result["method"] == "upsert"
    assert result["records"] == [{"id": 2, "name": "Changed"}, {"id": 4, "name": "New"}]
    rows = {r["id"]: r for r in search(call, table)["records"]}
    assert rows[2]["name"] == "Changed"
    assert rows[2]["reading"] == 2.0  # fields left out keep their value
    assert rows[4]["name"] == "New"
    assert len(rows) == 4


def test_upsert_of_the_same_key_twice_keeps_the_last(call: Call, table: str) -> None:
    call(
        "datastore_upsert",
        {"resource_id": table, "records": [{"id": 9, "name": "a"}, {"id": 9, "name": "b"}]},
        user="editor",
    )
    assert search(call, table, filters={"id": 9})["records"][0]["name"] == "b"


def test_upsert_by_id_without_a_primary_key(call: Call, rid: str) -> None:
    call(
        "datastore_create",
        {"resource_id": rid, "fields": [{"id": "x", "type": "text"}], "records": [{"x": "a"}]},
        user="editor",
    )
    call(
        "datastore_upsert",
        {"resource_id": rid, "records": [{"_id": 1, "x": "b"}]},
        user="editor",
    )
    assert search(call, rid)["records"] == [{"_id": 1, "x": "b"}]


def test_insert_appends_and_update_changes_existing_rows(call: Call, table: str) -> None:
    call(
        "datastore_upsert",
        {"resource_id": table, "method": "insert", "records": [{"id": 10, "name": "ten"}]},
        user="editor",
    )
    call(
        "datastore_upsert",
        {"resource_id": table, "method": "update", "records": [{"id": 1, "valid": "false"}]},
        user="editor",
    )
    rows = {r["id"]: r for r in search(call, table)["records"]}
    assert rows[10]["name"] == "ten"
    assert rows[1]["valid"] is False
    assert rows[1]["name"] == "Sunspot over the ridge"


def test_mixed_key_sets_are_written_in_order(call: Call, table: str) -> None:
    call(
        "datastore_upsert",
        {
            "resource_id": table,
            "records": [{"id": 1, "name": "x"}, {"id": 1, "reading": 9.5}, {"id": 1, "name": "y"}],
        },
        user="editor",
    )
    row = search(call, table, filters={"id": 1})["records"][0]
    assert (row["name"], row["reading"]) == ("y", 9.5)


def test_empty_string_is_null_for_non_text_columns(call: Call, table: str) -> None:
    call(
        "datastore_upsert",
        {"resource_id": table, "records": [{"id": 1, "reading": "", "name": ""}]},
        user="editor",
    )
    row = search(call, table, filters={"id": 1})["records"][0]
    assert row["reading"] is None
    assert row["name"] == ""


def test_dry_run_checks_and_writes_nothing(call: Call, table: str) -> None:
    call(
        "datastore_upsert",
        {"resource_id": table, "records": [{"id": 50, "name": "x"}], "dry_run": True},
        user="editor",
    )
    assert search(call, table)["total"] == 3


def test_delete_with_filters_removes_matching_rows(call: Call, table: str) -> None:
    result = call(
        "datastore_delete", {"resource_id": table, "filters": {"id": [1, 3]}}, user="editor"
    )
    assert result == {"resource_id": table, "filters": {"id": [1, 3]}}
    assert ids(search(call, table)) == [2]


def test_delete_with_empty_filters_keeps_the_table(call: Call, table: str) -> None:
    call("datastore_delete", {"resource_id": table, "filters": {}}, user="editor")
    assert search(call, table)["total"] == 0


def test_delete_without_filters_drops_the_table(call: Call, table: str) -> None:
    from heliograph.logic import ObjectNotFound

    result = call("datastore_delete", {"resource_id": table}, user="editor")
    assert result == {"resource_id": table}
    with pytest.raises(ObjectNotFound, match=f'Resource "{table}" was not found'):
        search(call, table)
    # and it can be created again
    call("datastore_create", {"resource_id": table, "fields": FIELDS}, user="editor")
    assert search(call, table)["total"] == 0


def test_search_filters_with_a_value_and_a_list(call: Call, table: str) -> None:
    assert ids(search(call, table, filters={"valid": True})) == [1]
    assert ids(search(call, table, filters={"id": [3, 1]})) == [1, 3]
    assert ids(search(call, table, filters='{"day": "2024-05-02"}')) == [2]
    assert ids(search(call, table, filters={"reading": None})) == [3]


def test_search_full_text_q_ranks_and_adds_a_rank_field(call: Call, table: str) -> None:
    result = search(call, table, q="flares")
    assert ids(result) == [2]
    assert result["fields"][-1] == {"id": "rank", "type": "float"}
    assert result["records"][0]["rank"] > 0
    assert ids(search(call, table, q="sunspot ridge")) == [1]
    assert ids(search(call, table, q="nothing-like-this")) == []


def test_full_text_sees_rows_written_after_the_last_search(call: Call, table: str) -> None:
    assert ids(search(call, table, q="eclipse")) == []
    call(
        "datastore_upsert",
        {"resource_id": table, "records": [{"id": 3, "name": "Total eclipse"}]},
        user="editor",
    )
    assert ids(search(call, table, q="eclipse")) == [3]
    assert ids(search(call, table, q="quiet")) == []
    call("datastore_delete", {"resource_id": table, "filters": {"id": 3}}, user="editor")
    assert ids(search(call, table, q="eclipse")) == []


def test_search_q_per_field_is_a_plain_match(call: Call, table: str) -> None:
    assert ids(search(call, table, q={"name": "DAY"})) == [3]
    assert ids(search(call, table, q='{"name": "the"}')) == [1, 2]
    assert ids(search(call, table, q={"name": "%"})) == []


def test_search_fields_sort_limit_offset(call: Call, table: str) -> None:
    result = search(call, table, fields=["name", "id"], sort="id desc", limit=2, offset=1)
    assert result["fields"] == [{"id": "name", "type": "text"}, {"id": "id", "type": "int"}]
    assert result["records"] == [
        {"name": "Solar flares in the morning", "id": 2},
        {"name": "Sunspot over the ridge", "id": 1},
    ]
    assert result["total"] == 3
    assert result["limit"] == 2


def test_search_limit_is_capped(call: Call, table: str) -> None:
    assert search(call, table, limit=10**6)["limit"] == 32000
    assert search(call, table, limit="1")["records"][0]["id"] == 1


def test_search_distinct_and_include_total(call: Call, table: str) -> None:
    call(
        "datastore_upsert",
        {"resource_id": table, "records": [{"id": 4, "valid": True}]},
        user="editor",
    )
    result = search(call, table, fields="valid", distinct=True, sort="valid")
    assert [r["valid"] for r in result["records"]] == [None, False, True] or [
        r["valid"] for r in result["records"]
    ] == [False, True, None]
    assert result["total"] == 3
    assert "total" not in search(call, table, include_total=False)


def test_search_records_format_lists(call: Call, table: str) -> None:
    result = search(call, table, fields="id,name", records_format="lists", limit=1)
    assert result["records"] == [[1, "Sunspot over the ridge"]]


def test_info_describes_fields_and_meta(call: Call, table: str) -> None:
    info = call("datastore_info", {"id": table})
    assert info["meta"]["id"] == table
    assert info["meta"]["count"] == 3
    assert [f["id"] for f in info["fields"]] == [f["id"] for f in FIELDS]
    by_id = {f["id"]: f for f in info["fields"]}
    assert by_id["id"]["schema"]["uniquekey"] is True
    assert by_id["name"]["schema"]["uniquekey"] is False
    assert by_id["extra"]["type"] == "json"


def test_create_with_a_resource_dict_makes_a_datastore_resource(
    call: Call, store_dataset: dict[str, t.Any]
) -> None:
    result = call(
        "datastore_create",
        {
            "resource": {"package_id": store_dataset["id"], "name": "made here"},
            "fields": [{"id": "a", "type": "text"}],
            "records": [{"a": "x"}],
        },
        user="editor",
    )
    resource = call("resource_show", {"id": result["resource_id"]})
    assert resource["url_type"] == "datastore"
    assert search(call, result["resource_id"])["records"] == [{"_id": 1, "a": "x"}]


def test_indexes_are_created(call: Call, rid: str) -> None:
    call(
        "datastore_create",
        {"resource_id": rid, "fields": FIELDS, "indexes": ["name", ["day", "valid"]]},
        user="editor",
    )
    info = call("datastore_info", {"resource_id": rid})
    assert info["meta"]["indexes"] == [["name"], ["day", "valid"]]


def test_the_default_database_is_a_sqlite_file_in_the_instance_folder(
    tmp_path: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import heliograph.plugins.toolkit as tk
    from heliograph.ext.datastore import backend

    monkeypatch.delitem(tk.config, "heliograph.datastore.url")
    monkeypatch.setitem(tk.config, "heliograph.instance_path", str(tmp_path / "inst"))
    assert backend.configured_url() == f"sqlite:///{tmp_path / 'inst' / 'datastore.db'}"
    monkeypatch.setitem(tk.config, "heliograph.datastore.url", "postgresql://x@h/db")
    assert backend.configured_url() == "postgresql://x@h/db"


def test_a_search_does_not_wait_for_a_writer_on_sqlite(
    call: Call, table: str, datastore: t.Any
) -> None:
    if datastore.dialect != "sqlite":
        pytest.skip("SQLite's locking; PostgreSQL readers never wait for writers")
    with datastore.engine.begin() as conn:  # holds SQLite's write lock until the end
        conn.exec_driver_sql(f'INSERT INTO "{table}" (id) VALUES (100)')
        assert search(call, table)["total"] == 3  # the committed rows only
        assert call("datastore_info", {"id": table})["meta"]["count"] == 3
    assert search(call, table)["total"] == 4
