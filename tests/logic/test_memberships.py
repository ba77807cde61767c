"""Membership actions: member_delete, group/organization_member_create and
_delete, member_list, member_roles_list, organization_list_for_user; and the
deletion settings."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest

from heliograph.logic import NotAuthorized, ObjectNotFound, ValidationError

Call = c.Callable[..., t.Any]


def _roles(call: Call, org_id: str) -> dict[str, str]:
    shown = call("organization_show", {"id": org_id, "include_users": True})
    return {user["name"]: user["capacity"] for user in shown["users"]}


def test_an_admin_adds_changes_and_removes_a_member_by_user_name(
    call: Call, org: dict[str, t.Any]
) -> None:
    member = call(
        "organization_member_create",
        {"id": org["name"], "username": "outsider", "role": "editor"},
        user="admin",
    )
    assert member["capacity"] == "editor"
    assert _roles(call, org["id"])["outsider"] == "editor"
    call(
        "organization_member_create",
        {"id": org["id"], "username": "outsider", "role": "member"},
        user="admin",
    )
    assert _roles(call, org["id"])["outsider"] == "member"
    call("organization_member_delete", {"id": org["id"], "username": "outsider"}, user="admin")
    assert "outsider" not in _roles(call, org["id"])


@pytest.mark.parametrize("user", ["editor", "member", "outsider", None])
def test_only_admins_manage_members(call: Call, org: dict[str, t.Any], user: str | None) -> None:
    with pytest.raises(NotAuthorized):
        call(
            "organization_member_create",
            {"id": org["id"], "username": "outsider", "role": "admin"},
            user=user,
        )
    with pytest.raises(NotAuthorized):
        call("organization_member_delete", {"id": org["id"], "user_id": "editor"}, user=user)
    with pytest.raises(NotAuthorized):
        call(
            "member_delete",
            {"id": org["id"], "object": "editor", "object_type": "user"},
            user=user,
        )
    assert _roles(call, org["id"])["editor"] == "editor"


def test_unknown_user_role_or_group_are_clear_errors(call: Call, org: dict[str, t.Any]) -> None:
    with pytest.raises(ObjectNotFound, match="nobody"):
        call(
            "organization_member_create",
            {"id": org["id"], "username": "nobody", "role": "member"},
            user="admin",
        )
    with pytest.raises(ValidationError) as caught:
        call(
            "organization_member_create",
            {"id": org["id"], "username": "outsider", "role": "boss"},
            user="admin",
        )
    assert "capacity" in caught.value.error_dict
    with pytest.raises(ValidationError) as caught:
        call("organization_member_create", {"id": org["id"]}, user="admin")
    assert set(caught.value.error_dict) == {"username", "role"}
    with pytest.raises(ObjectNotFound):
        call(
            "group_member_create",
            {"id": org["id"], "username": "outsider", "role": "member"},
            user="sysadmin",
        )


def test_member_delete_takes_a_dataset_out_of_a_group(call: Call, org: dict[str, t.Any]) -> None:
    group = call("group_create", {"name": "astronomy"}, user="editor")
    pkg = call("package_create", {"name": "spots", "owner_org": org["id"]}, user="editor")
    call(
        "member_create",
        {"id": group["id"], "object": pkg["id"], "object_type": "package", "capacity": "public"},
        user="editor",
    )
    assert "package" in {kind for _i, kind, _c in call("member_list", {"id": group["id"]})}
    call(
        "member_delete",
        {"id": group["id"], "object": pkg["name"], "object_type": "package"},
        user="editor",
    )
    listed = call("member_list", {"id": group["id"], "object_type": "package"})
    assert listed == []
    assert call("member_list", {"id": group["id"], "object_type": "user"}) == [
        (call("user_show", {"id": "editor"})["id"], "user", "admin")
    ]


def test_member_roles_list(call: Call) -> None:
    assert [r["value"] for r in call("member_roles_list", {})] == ["admin", "editor", "member"]
    assert [r["value"] for r in call("member_roles_list", {"group_type": "group"})] == [
        "admin",
        "member",
    ]


def test_organization_list_for_user(call: Call, org: dict[str, t.Any]) -> None:
    other = call("organization_create", {"name": "moon-watchers"}, user="outsider")
    mine = call("organization_list_for_user", {}, user="member")
    assert [(o["name"], o["capacity"]) for o in mine] == [("sun-watchers", "member")]
    assert call("organization_list_for_user", {"permission": "create_dataset"}, user="member") == []
    editor = call("organization_list_for_user", {"permission": "create_dataset"}, user="editor")
    assert [o["name"] for o in editor] == ["sun-watchers"]
    assert call("organization_list_for_user", {}, user=None) == []
    every = call("organization_list_for_user", {}, user="sysadmin")
    assert {o["name"] for o in every} == {"sun-watchers", other["name"]}
    asked = call("organization_list_for_user", {"id": "outsider"}, user=None)
    assert [o["name"] for o in asked] == ["moon-watchers"]


def test_deleting_follows_the_user_delete_settings(
    call: Call, org: dict[str, t.Any], setting: c.Callable[[str, t.Any], None]
) -> None:
    group = call("group_create", {"name": "astronomy"}, user="admin")
    setting("heliograph.auth.user_delete_groups", False)
    setting("heliograph.auth.user_delete_organizations", False)
    with pytest.raises(NotAuthorized):
        call("group_delete", {"id": group["id"]}, user="admin")
    with pytest.raises(NotAuthorized):
        call("organization_delete", {"id": org["id"]}, user="admin")
    call("group_delete", {"id": group["id"]}, user="sysadmin")
    setting("heliograph.auth.user_delete_organizations", True)
    call("organization_delete", {"id": org["id"]}, user="admin")
    with pytest.raises(ObjectNotFound):
        call("organization_list_for_user", {"id": "nobody"})
