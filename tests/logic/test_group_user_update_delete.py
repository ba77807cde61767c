"""group/organization update, patch and delete; user update and delete."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest

from heliograph import model
from heliograph.logic import NotAuthorized, ObjectNotFound, ValidationError, users

Call = c.Callable[..., t.Any]


# -- groups and organizations ----------------------------------------------------


def test_org_admin_updates_the_org_and_fields_left_out_keep_their_value(
    call: Call, org: dict[str, t.Any]
) -> None:
    call("organization_patch", {"id": org["id"], "description": "We watch the sun"}, user="admin")
    updated = call("organization_update", {"id": "sun-watchers", "title": "Sun"}, user="admin")
    assert updated["title"] == "Sun"
    assert updated["description"] == "We watch the sun"
    assert updated["name"] == "sun-watchers"
    assert call("organization_show", {"id": org["id"]})["title"] == "Sun"


@pytest.mark.parametrize("user", ["editor", "member", "outsider", None])
def test_only_admins_may_update_or_delete_an_org(
    call: Call, org: dict[str, t.Any], user: str | None
) -> None:
    with pytest.raises(NotAuthorized):
        call("organization_update", {"id": org["id"], "title": "x"}, user=user)
    with pytest.raises(NotAuthorized):
        call("organization_delete", {"id": org["id"]}, user=user)
    assert call("organization_show", {"id": org["id"]})["title"] == "Sun Watchers"


def test_sysadmins_update_any_group(call: Call, org: dict[str, t.Any]) -> None:
    group = call("group_create", {"name": "astronomy"}, user="admin")
    assert call("group_patch", {"id": group["id"], "title": "Astro"}, user="sysadmin")["title"] == (
        "Astro"
    )


def test_the_kind_must_match(call: Call, org: dict[str, t.Any]) -> None:
    with pytest.raises(ObjectNotFound):
        call("group_update", {"id": org["id"], "title": "x"}, user="sysadmin")
    with pytest.raises(ObjectNotFound):
        call("organization_delete", {"id": "no-such-org"}, user="sysadmin")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "Bad Name!"}, "name"),
        ({"name": "moon-watchers-taken"}, "name"),
        ({"approval_status": "maybe"}, "approval_status"),
        ({"type": "group"}, "type"),
    ],
)
def test_bad_updates_name_the_field(
    call: Call, org: dict[str, t.Any], data: dict[str, t.Any], field: str
) -> None:
    call("organization_create", {"name": "moon-watchers-taken"}, user="admin")
    with pytest.raises(ValidationError) as caught:
        call("organization_update", {"id": org["id"], **data}, user="admin")
    assert field in caught.value.error_dict
    assert call("organization_show", {"id": org["id"]})["name"] == "sun-watchers"


def test_renaming_an_org(call: Call, org: dict[str, t.Any]) -> None:
    call("organization_patch", {"id": org["id"], "name": "sun-gazers"}, user="admin")
    assert call("organization_show", {"id": "sun-gazers"})["id"] == org["id"]


def test_an_org_with_datasets_cannot_be_deleted(
    call: Call, dataset: dict[str, t.Any], org: dict[str, t.Any]
) -> None:
    with pytest.raises(ValidationError, match="still has datasets"):
        call("organization_delete", {"id": org["id"]}, user="admin")
    call("package_delete", {"id": dataset["id"]}, user="admin")
    assert call("organization_delete", {"id": org["id"]}, user="admin") is None
    names = [o if isinstance(o, str) else o["name"] for o in call("organization_list", {})]
    assert "sun-watchers" not in names


def test_with_unowned_datasets_allowed_deleting_detaches_them(
    call: Call, dataset: dict[str, t.Any], org: dict[str, t.Any], setting: t.Any
) -> None:
    setting("heliograph.auth.create_unowned_dataset", True)
    call("organization_delete", {"id": org["id"]}, user="admin")
    assert call("package_show", {"id": dataset["id"]}, user="sysadmin")["owner_org"] is None


def test_deleting_a_group_ends_its_memberships(call: Call, org: dict[str, t.Any]) -> None:
    group = call("group_create", {"name": "astronomy"}, user="admin")
    call("group_delete", {"id": group["id"]}, user="admin")
    shown = call("group_show", {"id": group["id"]}, user="sysadmin")
    assert shown["state"] == "deleted"
    with pytest.raises(NotAuthorized):  # no longer its admin: its members were ended
        call("group_update", {"id": group["id"], "title": "x"}, user="admin")


# -- users -----------------------------------------------------------------------


def test_users_update_their_own_profile(call: Call, people: dict[str, model.User]) -> None:
    updated = call(
        "user_update", {"id": "editor", "fullname": "Ed Itor", "about": "Sunspots"}, user="editor"
    )
    assert (updated["fullname"], updated["about"]) == ("Ed Itor", "Sunspots")
    assert updated["email"] == "editor@example.org"  # shown to the user themself
    with pytest.raises(NotAuthorized):
        call("user_update", {"id": "editor", "fullname": "x"}, user="outsider")
    with pytest.raises(NotAuthorized):
        call("user_update", {"id": "editor", "fullname": "x"})
    assert call("user_update", {"id": "editor", "about": "x"}, user="sysadmin")["about"] == "x"


def test_only_sysadmins_make_sysadmins(call: Call, people: dict[str, model.User]) -> None:
    assert call("user_update", {"id": "editor", "sysadmin": True}, user="editor")["sysadmin"] is (
        False
    )
    assert call("user_update", {"id": "editor", "sysadmin": True}, user="sysadmin")["sysadmin"]


def test_changing_your_own_password_needs_the_old_one(
    call: Call, people: dict[str, model.User]
) -> None:
    call("user_update", {"id": "member", "password": "first-password-1"}, user="sysadmin")
    with pytest.raises(ValidationError) as caught:
        call("user_update", {"id": "member", "password": "second-password-2"}, user="member")
    assert "old_password" in caught.value.error_dict
    call(
        "user_update",
        {"id": "member", "password": "second-password-2", "old_password": "first-password-1"},
        user="member",
    )
    session = model.Session()
    assert users.authenticate(session, "member", "second-password-2") is not None
    assert users.authenticate(session, "member", "first-password-1") is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "admin@example.org"}, "email"),
        ({"name": "admin"}, "name"),
        ({"password": "short"}, "password"),
    ],
)
def test_bad_user_updates_name_the_field(
    call: Call, people: dict[str, model.User], data: dict[str, t.Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        call("user_update", {"id": "editor", **data}, user="editor")
    assert field in caught.value.error_dict


def test_user_delete_is_for_sysadmins_and_ends_logins(
    call: Call, org: dict[str, t.Any], people: dict[str, model.User]
) -> None:
    with pytest.raises(NotAuthorized):
        call("user_delete", {"id": "member"}, user="admin")
    call("user_update", {"id": "member", "password": "member-password-1"}, user="sysadmin")
    assert call("user_delete", {"id": "member"}, user="sysadmin") is None
    assert users.authenticate(model.Session(), "member", "member-password-1") is None
    members = call("organization_show", {"id": org["id"]}, user="sysadmin")["users"]
    assert "member" not in [m["name"] for m in members]
    with pytest.raises(ObjectNotFound):
        call("user_delete", {"id": "nobody-at-all"}, user="sysadmin")
