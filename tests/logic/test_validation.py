"""The validators, and the promise that bad input is a ValidationError, never a crash."""

from __future__ import annotations

import contextlib
import typing as t

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heliograph.logic import NotAuthorized, ObjectNotFound, ValidationError
from heliograph.logic import validation as v

Call = t.Callable[..., t.Any]


def run(validator: v.Validator, value: t.Any) -> t.Any:
    return validator(value, v.State(context={}, data={}))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1), ("7", 7), (" 8 ", 8), (3.0, 3), ("", ""), (None, None)],
)
def test_int_validator_accepts(value: t.Any, expected: t.Any) -> None:
    assert run(v.int_validator, value) == expected


@pytest.mark.parametrize("value", ["x", 1.5, True, [1], {"a": 1}, "1.5"])
def test_int_validator_refuses(value: t.Any) -> None:
    with pytest.raises(v.Invalid) as info:
        run(v.int_validator, value)
    assert info.value.error == "Invalid integer"


def test_natural_number_validator() -> None:
    assert run(v.natural_number_validator, "0") == 0
    with pytest.raises(v.Invalid) as info:
        run(v.natural_number_validator, -2)
    assert info.value.error == "Must be a natural number"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("true", True), ("Yes", True), ("1", True), ("on", True), ("false", False),
     ("0", False), ("", False), (None, False), (0, False), ("anything", False)],
)  # fmt: skip
def test_boolean_validator_follows_ckan(value: t.Any, expected: bool) -> None:
    assert run(v.boolean_validator, value) is expected


def test_boolean_validator_refuses_containers() -> None:
    with pytest.raises(v.Invalid):
        run(v.boolean_validator, ["true"])


def test_string_type() -> None:
    assert run(v.unicode_safe, "a") == "a"
    assert run(v.unicode_safe, 5) == "5"
    for bad in ([], {}, True):
        with pytest.raises(v.Invalid):
            run(v.unicode_safe, bad)


def test_list_of_strings_accepts_json_and_single_strings() -> None:
    assert run(v.list_of_strings, '["a", "b"]') == ["a", "b"]
    assert run(v.list_of_strings, "a") == ["a"]
    with pytest.raises(v.Invalid):
        run(v.list_of_strings, [1, 2])


def test_validate_collects_every_field_and_drops_unknown_keys() -> None:
    schema = {
        "name": [v.not_empty, v.name_validator],
        "rows": [v.default(10), v.natural_number_validator],
        "title": [v.ignore_missing, v.unicode_safe],
    }
    clean, errors = v.validate({"rows": "x", "title": ["t"], "other": 1}, schema)
    assert errors == {
        "name": ["Missing value"],
        "rows": ["Invalid integer"],
        "title": ["Must be a string"],
    }
    clean, errors = v.validate({"name": "ok-name"}, schema)
    assert errors == {} and clean == {"name": "ok-name", "rows": 10}


def test_validate_or_raise() -> None:
    with pytest.raises(ValidationError) as info:
        v.validate_or_raise({}, {"id": [v.not_empty]})
    assert info.value.error_dict == {"id": ["Missing value"]}


def test_nested_reports_per_item_errors() -> None:
    chain = v.nested({"key": [v.not_empty]})
    with pytest.raises(v.Invalid) as info:
        run(chain, [{"key": "a"}, {}])
    assert info.value.error == [{}, {"key": ["Missing value"]}]


def test_isodate() -> None:
    assert run(v.isodate, "2024-05-01T14:00:00+02:00").isoformat() == "2024-05-01T12:00:00"
    with pytest.raises(v.Invalid) as info:
        run(v.isodate, "yesterday")
    assert info.value.error == "Date format incorrect"


awkward = st.sampled_from(["\x00", "a\x00b", "x" * 300, "Sun Spots", "sun", "-1", "1e400", ""])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | awkward,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
PACKAGE_FIELDS = [
    "name", "title", "owner_org", "private", "notes", "version", "tags", "extras",
    "groups", "resources", "state", "url", "author_email", "license_id", "id",
]  # fmt: skip


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.dictionaries(st.sampled_from(PACKAGE_FIELDS), json_values, max_size=6))
def test_package_create_never_crashes_on_json_input(
    call: Call, org: dict[str, t.Any], data: dict[str, t.Any]
) -> None:
    with contextlib.suppress(ValidationError, NotAuthorized, ObjectNotFound):
        call("package_create", data, user="editor")


SEARCH_FIELDS = ["q", "fq", "rows", "start", "sort", "facet.field", "include_private", "fq_list"]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.dictionaries(st.sampled_from(SEARCH_FIELDS), json_values, max_size=4))
def test_package_search_never_crashes_on_json_input(
    call: Call, db: t.Any, data: dict[str, t.Any]
) -> None:
    try:
        result = call("package_search", data)
    except ValidationError as exc:
        assert set(exc.error_dict) <= set(SEARCH_FIELDS)
    else:
        assert set(result) == {"count", "results", "facets", "search_facets", "sort"}


FUZZED_ACTIONS = {
    "resource_create": ["package_id", "url", "name", "size", "format", "url_type", "last_modified"],
    "organization_create": ["name", "title", "users", "approval_status", "type", "extras"],
    "member_create": ["id", "object", "object_type", "capacity"],
    "user_create": ["name", "email", "password", "fullname", "with_apitoken"],
    "api_token_create": ["user", "name"],
    "package_list": ["limit", "offset"],
    "organization_list": ["sort", "limit", "offset", "q", "all_fields", "organizations"],
    "user_list": ["q", "order_by", "limit", "offset", "all_fields"],
    "user_show": ["id", "include_datasets"],
    "package_show": ["id", "name_or_id"],
    "resource_show": ["id"],
    "package_patch": ["id", "notes", "tags", "resources"],
    "package_delete": ["id"],
}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    case=st.sampled_from(sorted(FUZZED_ACTIONS)).flatmap(
        lambda name: st.tuples(
            st.just(name),
            st.dictionaries(st.sampled_from(FUZZED_ACTIONS[name]), json_values, max_size=4),
        )
    )
)
def test_other_actions_never_crash_on_json_input(
    call: Call, dataset: dict[str, t.Any], case: tuple[str, dict[str, t.Any]]
) -> None:
    name, data = case
    with contextlib.suppress(ValidationError, NotAuthorized, ObjectNotFound):
        call(name, data, user="sysadmin")


@pytest.mark.parametrize("field", ["fq_list", "facet.field"])
@pytest.mark.parametrize("value", ["\x00", ["ok", "a\x00b"], '["\\u0000"]'])
def test_package_search_refuses_nul_in_string_lists(
    call: Call, db: t.Any, field: str, value: t.Any
) -> None:
    # found by the property test above on PostgreSQL, whose text cannot hold NUL
    with pytest.raises(ValidationError) as caught:
        call("package_search", {field: value})
    assert caught.value.error_dict == {field: ["Must not contain NUL characters"]}
