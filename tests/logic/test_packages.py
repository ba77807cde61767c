"""package_create / show / update / patch / delete / list: shapes and validation."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest

from heliograph import model
from heliograph.logic import ObjectNotFound, ValidationError

Call = t.Callable[..., t.Any]

PACKAGE_KEYS = {
    "id", "name", "title", "type", "state", "private", "owner_org", "organization",
    "creator_user_id", "metadata_created", "metadata_modified", "notes", "url", "version",
    "author", "author_email", "maintainer", "maintainer_email", "license_id", "license_title",
    "isopen", "num_resources", "num_tags", "resources", "tags", "groups", "extras",
    "relationships_as_subject", "relationships_as_object",
}  # fmt: skip
RESOURCE_KEYS = {
    "id", "package_id", "url", "name", "description", "format", "mimetype", "mimetype_inner",
    "hash", "size", "resource_type", "url_type", "cache_url", "cache_last_updated", "created",
    "last_modified", "metadata_modified", "state", "position",
}  # fmt: skip


def errors_of(call: Call, name: str, data: dict[str, t.Any], user: str | None) -> dict[str, t.Any]:
    with pytest.raises(ValidationError) as info:
        call(name, data, user=user)
    return info.value.error_dict


def test_package_create_returns_the_package_show_dict(
    call: Call, org: dict[str, t.Any], people: dict[str, model.User]
) -> None:
    pkg = call(
        "package_create",
        {
            "name": "sunspots",
            "owner_org": "sun-watchers",
            "notes": "Daily",
            "license_id": "cc-by",
            "tags": [{"name": "sun"}, {"name": "solar physics"}],
            "extras": [{"key": "source", "value": "SILSO"}],
            "resources": [{"url": "example.org/a.csv", "format": "csv", "colour": "blue"}],
        },
        user="editor",
    )
    assert set(pkg) >= PACKAGE_KEYS
    assert pkg["title"] == "sunspots"  # defaults to the name
    assert pkg["owner_org"] == org["id"] and pkg["organization"]["name"] == "sun-watchers"
    assert pkg["type"] == "dataset" and pkg["state"] == "active" and pkg["private"] is False
    assert pkg["creator_user_id"] == people["editor"].id
    assert [t_["name"] for t_ in pkg["tags"]] == ["solar physics", "sun"]
    assert pkg["extras"] == [{"key": "source", "value": "SILSO"}]
    assert pkg["license_title"] == "Creative Commons Attribution" and pkg["isopen"] is True
    (res,) = pkg["resources"]
    assert set(res) >= RESOURCE_KEYS
    assert res["url"] == "http://example.org/a.csv"  # a scheme is added, as CKAN does
    assert res["format"] == "CSV" and res["colour"] == "blue"  # extras merged at the top
    assert res["package_id"] == pkg["id"] and res["position"] == 0
    assert pkg["num_resources"] == 1 and pkg["num_tags"] == 2
    assert call("package_show", {"id": pkg["id"]}) == pkg


def test_timestamps_are_naive_utc_iso(call: Call, dataset: dict[str, t.Any]) -> None:
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for value in (dataset["metadata_created"], dataset["resources"][0]["created"]):
        parsed = dt.datetime.fromisoformat(value)
        assert parsed.tzinfo is None
        assert abs((before - parsed).total_seconds()) < 60


def test_package_show_accepts_name_id_and_name_or_id(call: Call, dataset: dict[str, t.Any]) -> None:
    assert call("package_show", {"id": "sunspots"})["id"] == dataset["id"]
    assert call("package_show", {"name_or_id": dataset["id"]})["name"] == "sunspots"


def test_package_show_of_nothing_is_not_found(call: Call, db: t.Any) -> None:
    with pytest.raises(ObjectNotFound):
        call("package_show", {"id": "nope"})


def test_package_show_without_id_names_the_field(call: Call, db: t.Any) -> None:
    assert errors_of(call, "package_show", {}, None) == {"id": ["Missing value"]}
    assert errors_of(call, "package_show", {"id": ["a"]}, None) == {"id": ["Must be a string"]}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (None, "Missing value"),
        ("", "Missing value"),
        ("a", "Must be at least 2 characters long"),
        ("x" * 101, "Name must be a maximum of 100 characters long"),
        (
            "Sun Spots",
            "Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_",
        ),
        ("new", "That name cannot be used"),
        (["a-list"], "Names must be strings"),
        ({"a": "dict"}, "Names must be strings"),
    ],
)
def test_package_name_rules(call: Call, org: dict[str, t.Any], name: t.Any, message: str) -> None:
    data = {"owner_org": org["id"]}
    if name is not None:
        data["name"] = name
    assert errors_of(call, "package_create", data, "editor") == {"name": [message]}


def test_a_taken_name_is_already_in_use(call: Call, dataset: dict[str, t.Any]) -> None:
    errors = errors_of(
        call, "package_create", {"name": "sunspots", "owner_org": dataset["owner_org"]}, "editor"
    )
    assert errors == {"name": ["That URL is already in use."]}


def test_the_name_of_a_deleted_dataset_can_be_reused(call: Call, dataset: dict[str, t.Any]) -> None:
    call("package_delete", {"id": "sunspots"}, user="editor")
    again = call(
        "package_create", {"name": "sunspots", "owner_org": dataset["owner_org"]}, user="editor"
    )
    assert again["id"] != dataset["id"]
    old = call("package_show", {"id": dataset["id"]}, user="editor")
    assert old["state"] == "deleted" and old["name"] == dataset["id"]


def test_owner_org_rules(call: Call, org: dict[str, t.Any], setting: t.Any) -> None:
    assert errors_of(call, "package_create", {"name": "no-org"}, "editor") == {
        "owner_org": ["An organization must be provided"]
    }
    assert errors_of(
        call, "package_create", {"name": "bad-org", "owner_org": "nope"}, "sysadmin"
    ) == {"owner_org": ["Organization does not exist"]}
    setting("heliograph.auth.create_unowned_dataset", "true")
    unowned = call("package_create", {"name": "no-org"}, user="editor")
    assert unowned["owner_org"] is None and unowned["organization"] is None
    assert errors_of(call, "package_create", {"name": "hidden", "private": True}, "editor") == {
        "private": ["Datasets with no organization can't be private."]
    }


def test_wrong_types_name_their_fields(call: Call, org: dict[str, t.Any]) -> None:
    errors = errors_of(
        call,
        "package_create",
        {
            "name": "typed",
            "owner_org": org["id"],
            "title": ["a", "list"],
            "notes": {"a": "dict"},
            "private": ["yes"],
            "tags": "not-a-list",
            "extras": {"key": "value"},
            "resources": [{"url": "http://x", "size": "big"}],
        },
        "editor",
    )
    assert errors["title"] == ["Must be a string"]
    assert errors["notes"] == ["Must be a string"]
    assert errors["private"] == ["Must be a boolean (true or false)"]
    assert "tags" in errors and "extras" in errors
    assert errors["resources"] == [{"size": ["Invalid integer"]}]


def test_tag_and_version_and_extras_messages(call: Call, org: dict[str, t.Any]) -> None:
    errors = errors_of(
        call,
        "package_create",
        {
            "name": "tagged",
            "owner_org": org["id"],
            "version": "9" * 101,
            "tags": [{"name": "a"}, {"name": "bad/tag"}],
            "extras": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}],
        },
        "editor",
    )
    assert errors["version"] == ["Version must be a maximum of 100 characters long"]
    assert errors["tags"] == [
        'Tag "a" length is less than minimum 2',
        'Tag "bad/tag" can only contain alphanumeric characters, spaces (" "), hyphens ("-"), '
        'underscores ("_") or dots (".")',
    ]
    assert errors["extras_validation"] == ['Duplicate key "k"']


def test_unknown_top_level_keys_are_dropped(call: Call, org: dict[str, t.Any]) -> None:
    pkg = call(
        "package_create", {"name": "plain", "owner_org": org["id"], "colour": "red"}, user="editor"
    )
    assert "colour" not in pkg


def test_only_sysadmins_choose_the_id(call: Call, org: dict[str, t.Any]) -> None:
    wanted = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
    by_editor = call(
        "package_create", {"name": "e-id", "owner_org": org["id"], "id": wanted}, user="editor"
    )
    assert by_editor["id"] != wanted
    by_sysadmin = call(
        "package_create", {"name": "s-id", "owner_org": org["id"], "id": wanted}, user="sysadmin"
    )
    assert by_sysadmin["id"] == wanted
    assert errors_of(
        call, "package_create", {"name": "bad-id", "owner_org": org["id"], "id": "x"}, "sysadmin"
    ) == {"id": ["Must be a valid UUID"]}


def test_package_update_replaces_lists_and_keeps_left_out_fields(
    call: Call, dataset: dict[str, t.Any]
) -> None:
    updated = call(
        "package_update",
        {"id": dataset["id"], "owner_org": dataset["owner_org"], "title": "New title"},
        user="editor",
    )
    assert updated["title"] == "New title"
    assert updated["name"] == "sunspots" and updated["notes"] == "Daily sunspot numbers"
    assert updated["tags"] == [] and updated["resources"] == []
    assert updated["metadata_modified"] > dataset["metadata_modified"]
    assert updated["metadata_created"] == dataset["metadata_created"]


def test_package_update_round_trips_package_show(call: Call, dataset: dict[str, t.Any]) -> None:
    shown = call("package_show", {"id": dataset["id"]})
    again = call("package_update", {**shown, "title": "Renamed"}, user="editor")
    assert again["title"] == "Renamed"
    assert again["resources"][0]["id"] == dataset["resources"][0]["id"]
    assert again["tags"][0]["name"] == "sun"
    assert again["id"] == dataset["id"] and again["type"] == "dataset"


def test_package_update_without_id_or_name(call: Call, dataset: dict[str, t.Any]) -> None:
    assert errors_of(call, "package_update", {"title": "x"}, "editor") == {"id": "Missing value"}
    with pytest.raises(ObjectNotFound):
        call("package_update", {"id": "nope"}, user="editor")


def test_package_update_cannot_take_another_datasets_name(
    call: Call, dataset: dict[str, t.Any], private_dataset: dict[str, t.Any]
) -> None:
    errors = errors_of(
        call,
        "package_update",
        {"id": private_dataset["id"], "name": "sunspots", "owner_org": dataset["owner_org"]},
        "editor",
    )
    assert errors == {"name": ["That URL is already in use."]}


def test_package_patch_changes_only_what_it_is_given(call: Call, dataset: dict[str, t.Any]) -> None:
    patched = call("package_patch", {"id": "sunspots", "notes": "Monthly"}, user="editor")
    assert patched["notes"] == "Monthly"
    assert patched["title"] == "Sunspot counts"
    assert patched["tags"] == dataset["tags"]
    assert [r["id"] for r in patched["resources"]] == [r["id"] for r in dataset["resources"]]


def test_package_patch_needs_an_id(call: Call, dataset: dict[str, t.Any]) -> None:
    assert errors_of(call, "package_patch", {"notes": "x"}, "editor") == {"id": ["Missing value"]}


def test_package_delete_is_soft_and_hides_the_dataset(
    call: Call, dataset: dict[str, t.Any]
) -> None:
    assert call("package_delete", {"id": "sunspots"}, user="editor") is None
    assert "sunspots" not in call("package_list")
    assert call("package_show", {"id": "sunspots"}, user="member")["state"] == "deleted"
    with pytest.raises(ObjectNotFound):
        call("package_delete", {"id": "nope"}, user="editor")


def test_package_delete_takes_the_dataset_out_of_its_groups(
    call: Call, org: dict[str, t.Any], people: t.Any
) -> None:
    group = call("group_create", {"name": "astronomy"}, user="editor")
    pkg = call(
        "package_create",
        {"name": "grouped", "owner_org": org["id"], "groups": [{"name": "astronomy"}]},
        user="editor",
    )
    assert [g["name"] for g in pkg["groups"]] == ["astronomy"]
    assert call("group_show", {"id": group["id"]})["package_count"] == 1
    call("package_delete", {"id": pkg["id"]}, user="editor")
    assert call("group_show", {"id": group["id"]})["package_count"] == 0


def test_package_list_is_active_public_names_sorted(
    call: Call, dataset: dict[str, t.Any], private_dataset: dict[str, t.Any], org: dict[str, t.Any]
) -> None:
    call("package_create", {"name": "aurora", "owner_org": org["id"]}, user="editor")
    assert call("package_list") == ["aurora", "sunspots"]
    assert call("package_list", {"limit": 1, "offset": "1"}) == ["sunspots"]
    assert errors_of(call, "package_list", {"limit": "many"}, None) == {
        "limit": ["Invalid integer"]
    }
    assert errors_of(call, "package_list", {"offset": -1}, None) == {
        "offset": ["Must be a natural number"]
    }
    assert errors_of(call, "package_list", {"limit": {"a": 1}}, None) == {
        "limit": ["Invalid integer"]
    }


def test_actions_refuse_a_data_dict_that_is_not_a_dict(call: Call, db: t.Any) -> None:
    with pytest.raises(ValidationError):
        call("package_show", ["sunspots"])  # type: ignore[arg-type]


def test_nul_characters_and_huge_numbers_are_validation_errors(
    call: Call, dataset: dict[str, t.Any]
) -> None:
    # PostgreSQL refuses NUL in text and integers past 64 bits: both must stop at validation.
    errors = errors_of(
        call,
        "package_create",
        {"name": "nul", "owner_org": dataset["owner_org"], "title": "a\x00b"},
        "editor",
    )
    assert errors == {"title": ["Must not contain NUL characters"]}
    assert errors_of(call, "package_show", {"id": "sun\x00spots"}, None) == {
        "id": ["Must not contain NUL characters"]
    }
    assert call("package_list", {"offset": 2**80}) == []
    assert call("package_search", {"start": 2**80})["results"] == []
    errors = errors_of(call, "resource_create", {"package_id": "sunspots", "size": 2**40}, "editor")
    assert errors == {"size": ["Must be a natural number of at most 2147483647"]}
