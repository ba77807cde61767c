"""Bad input is a Validation Error (or Not Found) naming the field or value; a failed
call leaves the table exactly as it was; SQL in names and values is never run."""

from __future__ import annotations

import typing as t

import pytest

from heliograph.logic import ObjectNotFound, ValidationError
from tests.ext.datastore.datastore_helpers import FIELDS

Call = t.Callable[..., t.Any]


def snapshot(call: Call, rid: str) -> tuple[list[t.Any], list[t.Any]]:
    result = call("datastore_search", {"resource_id": rid, "limit": 1000})
    return result["fields"], result["records"]


def error(call: Call, name: str, data: dict[str, t.Any], user: str = "editor") -> dict[str, t.Any]:
    with pytest.raises(ValidationError) as info:
        call(name, data, user=user)
    return info.value.error_dict


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([{"id": 7, "nope": 1}], {"fields": ['fields "nope" do not exist']}),
        ([{"id": "seven"}], {"records": ['row "1": field "id": "seven" is not a whole number']}),
        ([{"id": 8}, {"id": 9, "reading": "high"}], {"records": ['row "2": field "reading": ']}),
        ([{"id": 8, "valid": "perhaps"}], {"records": ['row "1": field "valid": ']}),
        ([{"id": 8, "day": "May 1st"}], {"records": ['row "1": field "day": ']}),
        ([{"id": 8, "seen": "yesterday"}], {"records": ['row "1": field "seen": ']}),
        ([{"id": 8, "amount": "NaN"}], {"records": ['row "1": field "amount": ']}),
        ([{"id": 2**70}], {"records": ['row "1": field "id": ']}),
        ([{"name": "no key"}], {"key": ['fields "id" are missing but needed as key']}),
        (["not a record"], {"records": ['row "1" is not an object']}),
        ({"id": 1}, {"records": ["records must be a list of objects"]}),
    ],
)
def test_bad_records_are_refused_and_change_nothing(
    call: Call, table: str, records: t.Any, expected: dict[str, list[str]]
) -> None:
    before = snapshot(call, table)
    errors = error(call, "datastore_upsert", {"resource_id": table, "records": records})
    for key, (message,) in expected.items():
        assert errors[key][0].startswith(message), errors
    assert snapshot(call, table) == before


def test_a_failing_row_rolls_back_the_rows_before_it(call: Call, table: str) -> None:
    before = snapshot(call, table)
    errors = error(
        call,
        "datastore_upsert",
        {
            "resource_id": table,
            "method": "insert",
            "records": [{"id": 20, "name": "new"}, {"id": 1, "name": "duplicate"}],
        },
    )
    assert errors["records_row"] == 2
    assert errors["records"][0].startswith('row "2": ')
    assert snapshot(call, table) == before


def test_insert_refuses_extra_keys(call: Call, table: str) -> None:
    errors = error(
        call,
        "datastore_upsert",
        {"resource_id": table, "method": "insert", "records": [{"id": 5, "x": 1}]},
    )
    assert errors == {"records": ['row "1" has extra keys "x"']}


def test_update_of_a_missing_key_is_refused_and_rolled_back(call: Call, table: str) -> None:
    before = snapshot(call, table)
    errors = error(
        call,
        "datastore_upsert",
        {
            "resource_id": table,
            "method": "update",
            "records": [{"id": 1, "name": "changed"}, {"id": 99, "name": "ghost"}],
        },
    )
    assert errors == {"key": ['key "(99)" not found']}
    assert snapshot(call, table) == before


def test_upsert_without_a_key_on_a_table_without_one(call: Call, rid: str) -> None:
    call(
        "datastore_create",
        {"resource_id": rid, "fields": [{"id": "a"}], "records": [{"a": 1}]},
        user="editor",
    )
    errors = error(call, "datastore_upsert", {"resource_id": rid, "records": [{"a": 2}]})
    assert errors == {"table": ["unique key must be passed for update/upsert"]}


def test_unknown_method(call: Call, table: str) -> None:
    errors = error(call, "datastore_upsert", {"resource_id": table, "method": "merge"})
    assert list(errors) == ["method"]


def test_a_failed_create_leaves_no_table(call: Call, rid: str) -> None:
    errors = error(
        call,
        "datastore_create",
        {
            "resource_id": rid,
            "fields": FIELDS,
            "primary_key": "id",
            "records": [{"id": 1}, {"id": 1}],
        },
    )
    assert "records" in errors
    with pytest.raises(ObjectNotFound):
        call("datastore_info", {"id": rid})


def test_primary_key_over_duplicates_is_refused(call: Call, rid: str) -> None:
    call(
        "datastore_create",
        {
            "resource_id": rid,
            "fields": [{"id": "a", "type": "int"}],
            "records": [{"a": 1}, {"a": 1}],
        },
        user="editor",
    )
    errors = error(call, "datastore_create", {"resource_id": rid, "primary_key": "a"})
    assert "constraints" in errors
    assert call("datastore_info", {"id": rid})["meta"]["primary_key"] == []


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ([{"id": "a", "type": "money"}], "fields", '"money" is not a valid field type'),
        ([{"id": "_a", "type": "text"}], "fields", '"_a" is not a valid field name'),
        ([{"id": 'a"b', "type": "text"}], "fields", '"a"b" is not a valid field name'),
        ([{"id": "a", "type": "text"}, {"id": "a"}], "field", "Duplicate column names"),
        ([{"id": "a"}], "fields", '"a" type not guessable'),
        ([{"id": "x" * 64, "type": "text"}], "fields", "is not a valid field name"),
        ("nope", "fields", "fields must be a list"),
    ],
)
def test_bad_fields_on_create(call: Call, rid: str, fields: t.Any, key: str, message: str) -> None:
    errors = error(call, "datastore_create", {"resource_id": rid, "fields": fields})
    assert message in errors[key][0]


def test_changing_a_field_type_is_refused(call: Call, table: str) -> None:
    errors = error(
        call, "datastore_create", {"resource_id": table, "fields": [{"id": "id", "type": "text"}]}
    )
    assert "cannot be changed" in errors["fields"][0]


def test_create_needs_a_resource(call: Call, rid: str) -> None:
    assert error(call, "datastore_create", {"fields": []}) == {
        "resource_id": ["resource_id or resource required"]
    }
    assert error(call, "datastore_create", {"resource_id": rid, "resource": {}}) == {
        "resource": ["resource cannot be used with resource_id"]
    }


def test_unknown_resource_and_missing_table_are_not_found(call: Call, rid: str) -> None:
    with pytest.raises(ObjectNotFound):
        call("datastore_search", {"resource_id": "no-such-resource"})
    with pytest.raises(ObjectNotFound, match="was not found"):
        call("datastore_search", {"resource_id": rid})
    with pytest.raises(ObjectNotFound):
        call("datastore_upsert", {"resource_id": rid, "records": []}, user="editor")
    with pytest.raises(ObjectNotFound):
        call("datastore_delete", {"resource_id": rid}, user="editor")
    with pytest.raises(ObjectNotFound):
        call("datastore_info", {"id": rid})
    assert error(call, "datastore_info", {}) == {"resource_id": ["Missing value"]}


def test_read_only_resources_need_force(call: Call, readonly_rid: str) -> None:
    errors = error(call, "datastore_create", {"resource_id": readonly_rid, "fields": FIELDS})
    assert list(errors) == ["read-only"]
    call(
        "datastore_create",
        {"resource_id": readonly_rid, "fields": FIELDS, "force": True},
        user="editor",
    )
    errors = error(call, "datastore_upsert", {"resource_id": readonly_rid, "records": []})
    assert list(errors) == ["read-only"]
    errors = error(call, "datastore_delete", {"resource_id": readonly_rid})
    assert list(errors) == ["read-only"]
    call("datastore_delete", {"resource_id": readonly_rid, "force": "true"}, user="editor")


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"filters": {"nope": 1}}, "filters"),
        ({"filters": ["id"]}, "filters"),
        ({"filters": "{not json"}, "filters"),
        ({"filters": {"id": "one"}}, "filters"),
        ({"fields": ["nope"]}, "fields"),
        ({"sort": "nope desc"}, "sort"),
        ({"sort": "id sideways"}, "sort"),
        ({"q": {"nope": "x"}}, "q"),
        ({"q": 5}, "q"),
        ({"limit": "ten"}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": "1.5"}, "offset"),
        ({"include_total": "maybe"}, "include_total"),
        ({"records_format": "xml"}, "records_format"),
        ({"unexpected": 1}, "__extras"),
    ],
)
def test_bad_search_parameters(call: Call, table: str, params: dict[str, t.Any], key: str) -> None:
    errors = error(call, "datastore_search", {"resource_id": table, **params})
    assert list(errors) == [key]


def test_bad_delete_filters(call: Call, table: str) -> None:
    assert error(call, "datastore_delete", {"resource_id": table, "filters": [1]}) == {
        "filters": ["filters must be either a dict or null."]
    }
    assert error(call, "datastore_delete", {"resource_id": table, "filters": {"x": 1}}) == {
        "filters": ['invalid value "x"']
    }


# -- injection -----------------------------------------------------------------------

INJECTIONS = [
    'id"; DROP TABLE "{rid}"; --',
    "id; DROP TABLE x",
    "name) OR (1=1",
    "id desc; DELETE FROM x",
    "1=1 --",
    "'; SELECT 1; --",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_sql_in_names_is_refused_and_runs_nothing(call: Call, table: str, evil: str) -> None:
    evil = evil.replace("{rid}", table)
    before = snapshot(call, table)
    for name, data in [
        ("datastore_search", {"fields": [evil]}),
        ("datastore_search", {"sort": evil}),
        ("datastore_search", {"filters": {evil: 1}}),
        ("datastore_search", {"q": {evil: "x"}}),
        ("datastore_upsert", {"records": [{"id": 1, evil: 1}]}),
        ("datastore_delete", {"filters": {evil: 1}}),
        ("datastore_create", {"fields": [{"id": evil, "type": "text"}]}),
        ("datastore_create", {"primary_key": [evil]}),
        ("datastore_create", {"indexes": [evil]}),
        ("datastore_create", {"fields": [{"id": "z", "type": f"text); {evil}"}]}),
    ]:
        error(call, name, {"resource_id": table, **data})
    assert snapshot(call, table) == before


@pytest.mark.parametrize("evil", [*INJECTIONS, "x' OR '1'='1", '" OR ""="', "%", "\\"])
def test_sql_in_values_is_only_ever_data(call: Call, table: str, evil: str) -> None:
    call(
        "datastore_upsert",
        {"resource_id": table, "records": [{"id": 1, "name": evil}]},
        user="editor",
    )
    found = call("datastore_search", {"resource_id": table, "filters": {"name": evil}})
    assert [r["id"] for r in found["records"]] == [1]
    assert found["records"][0]["name"] == evil
    for q in (evil, {"name": evil}):
        call("datastore_search", {"resource_id": table, "q": q})
    call("datastore_delete", {"resource_id": table, "filters": {"name": evil}}, user="editor")
    assert call("datastore_search", {"resource_id": table})["total"] == 2


def test_a_resource_id_carrying_sql_is_not_found(call: Call, table: str) -> None:
    for evil in (f'{table}"; DROP TABLE "{table}', "x' OR 1=1 --"):
        with pytest.raises((ObjectNotFound, ValidationError)):
            call("datastore_search", {"resource_id": evil})
    assert call("datastore_search", {"resource_id": table})["total"] == 3


def test_full_text_query_syntax_is_taken_as_words(call: Call, table: str) -> None:
    for q in ('"unbalanced', "NEAR(a b)", "name:flares", "* OR -", "a AND (b"):
        call("datastore_search", {"resource_id": table, "q": q})
    # OR is a word (AND of all words), not an operator: no row has both
    found = call("datastore_search", {"resource_id": table, "q": "flares) OR (quiet"})
    assert found["records"] == []


def test_an_upsert_that_meets_a_key_written_meanwhile_falls_back_to_on_conflict(
    call: Call, table: str, datastore: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL inserts all-new keys with a plain INSERT; a key that appears
    between its check and its INSERT (another writer) must still upsert."""
    if datastore.dialect != "postgresql":
        pytest.skip("the plain-INSERT path is PostgreSQL's")
    from heliograph.ext.datastore import backend

    real = backend.PostgresBackend._insert_if_all_new

    class Blind:  # the check sees no existing key, as if it ran before another writer
        def __init__(self, cur: t.Any) -> None:
            self.cur = cur

        def execute(self, sql: str) -> t.Any:
            return self.cur.execute(sql)

        def fetchone(self) -> tuple[bool]:
            self.cur.fetchone()
            return (False,)

    def blind(cur: t.Any, *args: t.Any) -> bool:
        return real(Blind(cur), *args)

    monkeypatch.setattr(backend.PostgresBackend, "_insert_if_all_new", staticmethod(blind))
    call(
        "datastore_upsert",
        {"resource_id": table, "records": [{"id": 1, "name": "again"}, {"id": 4, "name": "new"}]},
        user="editor",
    )
    found = call("datastore_search", {"resource_id": table, "sort": "id"})
    assert [(r["id"], r["name"]) for r in found["records"]][::3] == [(1, "again"), (4, "new")]
    assert found["total"] == 4
