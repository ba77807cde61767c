"""Organizations, groups and memberships."""

from __future__ import annotations

import typing as t

import pytest

from heliograph.logic import ObjectNotFound, ValidationError

Call = t.Callable[..., t.Any]

GROUP_KEYS = {
    "id", "name", "title", "display_name", "description", "image_url", "image_display_url",
    "type", "is_organization", "approval_status", "state", "created", "package_count",
    "num_followers", "extras", "tags", "groups", "users",
}  # fmt: skip


def test_organization_create_shape_and_creator_is_admin(call: Call, people: t.Any) -> None:
    org = call(
        "organization_create",
        {"name": "sun-watchers", "title": "Sun Watchers", "description": "We watch"},
        user="editor",
    )
    assert set(org) >= GROUP_KEYS
    assert org["type"] == "organization" and org["is_organization"] is True
    assert org["display_name"] == "Sun Watchers" and org["approval_status"] == "approved"
    assert [(u["name"], u["capacity"]) for u in org["users"]] == [("editor", "admin")]
    assert "email" not in org["users"][0] and "apikey" not in org["users"][0]
    assert org["package_count"] == 0


def test_group_create_with_users(call: Call, people: t.Any) -> None:
    group = call(
        "group_create",
        {"name": "astronomy", "users": [{"name": "member", "capacity": "editor"}]},
        user="admin",
    )
    assert group["type"] == "group" and group["is_organization"] is False
    assert group["display_name"] == "astronomy"
    assert sorted((u["name"], u["capacity"]) for u in group["users"]) == [
        ("admin", "admin"),
        ("member", "editor"),
    ]
    with pytest.raises(ValidationError) as info:
        call("group_create", {"name": "optics", "users": [{"name": "ghost"}]}, user="admin")
    assert info.value.error_dict == {"users": [{"name": ["User not found"]}]}


def test_group_and_organization_names_are_unique_together(
    call: Call, org: dict[str, t.Any]
) -> None:
    with pytest.raises(ValidationError) as info:
        call("group_create", {"name": "sun-watchers"}, user="admin")
    assert info.value.error_dict == {"name": ["Group name already exists in database"]}
    with pytest.raises(ValidationError) as short:
        call("organization_create", {"name": "x"}, user="admin")
    assert short.value.error_dict == {"name": ["Must be at least 2 characters long"]}
    with pytest.raises(ValidationError) as missing:
        call("organization_create", {"title": "No name"}, user="admin")
    assert missing.value.error_dict == {"name": ["Missing value"]}


def test_show_keeps_groups_and_organizations_apart(call: Call, org: dict[str, t.Any]) -> None:
    group = call("group_create", {"name": "astronomy"}, user="admin")
    assert call("organization_show", {"id": "sun-watchers"})["id"] == org["id"]
    assert call("group_show", {"id": group["id"]})["name"] == "astronomy"
    with pytest.raises(ObjectNotFound):
        call("group_show", {"id": org["id"]})
    with pytest.raises(ObjectNotFound):
        call("organization_show", {"id": "astronomy"})
    with pytest.raises(ObjectNotFound):
        call("organization_show", {"id": "nope"})


def test_organization_show_counts_and_lists_datasets_the_caller_may_see(
    call: Call, dataset: dict[str, t.Any], private_dataset: dict[str, t.Any]
) -> None:
    assert call("organization_show", {"id": "sun-watchers"})["package_count"] == 1
    assert call("organization_show", {"id": "sun-watchers"}, user="member")["package_count"] == 2
    shown = call(
        "organization_show",
        {"id": "sun-watchers", "include_datasets": "true", "include_users": False},
    )
    assert [p["name"] for p in shown["packages"]] == ["sunspots"]
    assert "users" not in shown
    counted = call("organization_show", {"id": "sun-watchers", "include_member_count": True})
    assert counted["member_count"] == 3


def test_organization_list(call: Call, org: dict[str, t.Any], dataset: dict[str, t.Any]) -> None:
    call("organization_create", {"name": "aardvarks", "title": "Zoo"}, user="admin")
    call("organization_create", {"name": "moon-watchers", "title": "Moon Watchers"}, user="admin")
    assert call("organization_list") == ["moon-watchers", "sun-watchers", "aardvarks"]
    assert call("organization_list", {"sort": "name asc"}) == [
        "aardvarks",
        "moon-watchers",
        "sun-watchers",
    ]
    assert call("organization_list", {"sort": "package_count desc"})[0] == "sun-watchers"
    assert call("organization_list", {"q": "watch", "limit": 1, "offset": 1}) == ["sun-watchers"]
    assert call("organization_list", {"organizations": ["aardvarks"]}) == ["aardvarks"]
    full = call("organization_list", {"all_fields": True, "sort": "name asc"})
    assert [o["name"] for o in full] == ["aardvarks", "moon-watchers", "sun-watchers"]
    assert full[2]["package_count"] == 1 and "users" not in full[2]
    assert call("group_list") == []
    with pytest.raises(ValidationError) as info:
        call("organization_list", {"sort": "colour"})
    assert list(info.value.error_dict) == ["sort"]
    with pytest.raises(ValidationError) as limit:
        call("organization_list", {"limit": "lots"})
    assert limit.value.error_dict == {"limit": ["Invalid integer"]}


def test_member_create_shape_and_upsert(call: Call, org: dict[str, t.Any], people: t.Any) -> None:
    data = {"id": "sun-watchers", "object": "outsider", "object_type": "user", "capacity": "member"}
    member = call("member_create", data, user="admin")
    assert set(member) == {"id", "table_name", "table_id", "capacity", "group_id", "state"}
    assert member["table_name"] == "user" and member["table_id"] == people["outsider"].id
    assert member["group_id"] == org["id"] and member["state"] == "active"
    again = call("member_create", {**data, "capacity": "editor"}, user="admin")
    assert again["id"] == member["id"] and again["capacity"] == "editor"


def test_member_create_validation(call: Call, org: dict[str, t.Any]) -> None:
    with pytest.raises(ValidationError) as missing:
        call("member_create", {"id": org["id"]}, user="admin")
    assert missing.value.error_dict == {
        "object": ["Missing value"],
        "object_type": ["Missing value"],
        "capacity": ["Missing value"],
    }
    base = {"id": org["id"], "object": "outsider", "object_type": "user"}
    with pytest.raises(ValidationError) as role:
        call("member_create", {**base, "capacity": "overlord"}, user="admin")
    assert list(role.value.error_dict) == ["capacity"]
    with pytest.raises(ValidationError) as kind:
        call("member_create", {**base, "object_type": "planet", "capacity": "member"}, user="admin")
    assert list(kind.value.error_dict) == ["object_type"]
    with pytest.raises(ObjectNotFound):
        call("member_create", {**base, "object": "ghost", "capacity": "member"}, user="admin")
    with pytest.raises(ObjectNotFound):
        call("member_create", {**base, "id": "nope", "capacity": "member"}, user="admin")


def test_datasets_join_groups_through_member_create(
    call: Call, dataset: dict[str, t.Any], people: t.Any
) -> None:
    group = call("group_create", {"name": "astronomy", "title": "Astronomy"}, user="editor")
    call(
        "member_create",
        {"id": "astronomy", "object": "sunspots", "object_type": "package", "capacity": "public"},
        user="editor",
    )
    pkg = call("package_show", {"id": "sunspots"})
    assert pkg["groups"] == [
        {
            "id": group["id"],
            "name": "astronomy",
            "title": "Astronomy",
            "display_name": "Astronomy",
            "description": "",
            "image_display_url": "",
        }
    ]
    assert call("group_list", {"all_fields": True})[0]["package_count"] == 1
