"""CKAN's default permissions: sysadmin, organization roles, outsiders, anonymous."""

from __future__ import annotations

import typing as t

import pytest

from heliograph import logic, model
from heliograph.logic import NotAuthorized
from heliograph.logic import action as core_action_modules
from heliograph.logic import auth as core_auth_modules

Call = t.Callable[..., t.Any]
ANON = None
EVERYONE = ("sysadmin", "admin", "editor", "member", "outsider", ANON)


def allowed(call: Call, name: str, data: dict[str, t.Any], user: str | None) -> bool:
    try:
        call(name, data, user=user)
    except NotAuthorized:
        return False
    return True


def may(name: str, data: dict[str, t.Any], user: str | None) -> bool:
    """check_access's answer, which has_access (raising nothing) must give too."""
    answer = logic.has_access(name, {"user": user, "session": model.Session}, data)
    try:
        logic.check_access(name, {"user": user, "session": model.Session}, data)
    except NotAuthorized:
        assert answer is False
        return False
    assert answer is True
    return True


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("sysadmin", True),
        ("admin", True),
        ("editor", True),
        ("member", False),
        ("outsider", False),
        (ANON, False),
    ],
)
def test_package_create_needs_editor_or_admin(
    call: Call, org: dict[str, t.Any], user: str | None, expected: bool
) -> None:
    assert (
        allowed(call, "package_create", {"name": "new-data", "owner_org": org["id"]}, user)
        is expected
    )


def test_package_create_messages(call: Call, org: dict[str, t.Any]) -> None:
    with pytest.raises(NotAuthorized, match="not authorized to create packages"):
        call("package_create", {"name": "x1", "owner_org": org["id"]}, user="outsider")
    other = call("organization_create", {"name": "other-org"}, user="outsider")
    with pytest.raises(NotAuthorized, match="not authorized to add dataset to this organization"):
        call("package_create", {"name": "x2", "owner_org": org["id"]}, user="outsider")
    assert call("package_create", {"name": "x3", "owner_org": other["id"]}, user="outsider")


@pytest.mark.parametrize("user", EVERYONE)
def test_public_dataset_is_readable_by_everyone(
    call: Call, dataset: dict[str, t.Any], user: str | None
) -> None:
    assert call("package_show", {"id": dataset["id"]}, user=user)["name"] == "sunspots"
    res = dataset["resources"][0]
    assert call("resource_show", {"id": res["id"]}, user=user)["id"] == res["id"]


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("sysadmin", True),
        ("admin", True),
        ("editor", True),
        ("member", True),
        ("outsider", False),
        (ANON, False),
    ],
)
def test_private_dataset_is_readable_by_its_organization_only(
    call: Call, private_dataset: dict[str, t.Any], user: str | None, expected: bool
) -> None:
    assert allowed(call, "package_show", {"id": "flares"}, user) is expected
    res_id = private_dataset["resources"][0]["id"]
    assert allowed(call, "resource_show", {"id": res_id}, user) is expected


def test_private_dataset_refusal_is_not_authorized_not_not_found(
    call: Call, private_dataset: dict[str, t.Any]
) -> None:
    with pytest.raises(NotAuthorized, match="not authorized to read package"):
        call("package_show", {"id": "flares"})


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("sysadmin", True),
        ("admin", True),
        ("editor", True),
        ("member", False),
        ("outsider", False),
        (ANON, False),
    ],
)
def test_updating_and_deleting_a_dataset_needs_editor_or_admin(
    call: Call, dataset: dict[str, t.Any], user: str | None, expected: bool
) -> None:
    pkg = {"id": dataset["id"]}
    res = {"id": dataset["resources"][0]["id"]}
    assert may("package_update", pkg, user) is expected
    assert may("package_patch", pkg, user) is expected
    assert may("package_delete", pkg, user) is expected
    assert may("resource_create", {"package_id": dataset["id"]}, user) is expected
    assert may("resource_update", res, user) is expected
    assert may("resource_delete", res, user) is expected
    assert allowed(call, "package_patch", {"id": dataset["id"], "notes": "x"}, user) is expected
    assert (
        allowed(call, "resource_create", {"package_id": dataset["id"], "url": "http://x"}, user)
        is expected
    )


def test_anonymous_callers_are_told_to_log_in(call: Call, dataset: dict[str, t.Any]) -> None:
    for name, data in [
        ("package_patch", {"id": dataset["id"]}),
        ("package_delete", {"id": dataset["id"]}),
        ("resource_update", {"id": dataset["resources"][0]["id"]}),
        ("organization_create", {"name": "anon-org"}),
        ("api_token_create", {"user": "editor", "name": "t"}),
    ]:
        with pytest.raises(NotAuthorized, match=f"Action {name} requires an authenticated user"):
            call(name, data)


@pytest.mark.parametrize("kind", ["organization", "group"])
def test_logged_in_users_create_organizations_and_groups(
    call: Call, people: t.Any, setting: t.Any, kind: str
) -> None:
    assert allowed(call, f"{kind}_create", {"name": f"{kind}-a"}, "outsider")
    assert not allowed(call, f"{kind}_create", {"name": f"{kind}-b"}, ANON)
    setting(f"heliograph.auth.user_create_{kind}s", "false")
    with pytest.raises(NotAuthorized, match=f"not authorized to create {kind}s"):
        call(f"{kind}_create", {"name": f"{kind}-c"}, user="outsider")
    assert allowed(call, f"{kind}_create", {"name": f"{kind}-d"}, "sysadmin")


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("sysadmin", True),
        ("admin", True),
        ("editor", False),
        ("member", False),
        ("outsider", False),
    ],
)
def test_organization_membership_is_managed_by_admins(
    call: Call, org: dict[str, t.Any], user: str, expected: bool
) -> None:
    data = {"id": org["id"], "object": "outsider", "object_type": "user", "capacity": "member"}
    assert allowed(call, "member_create", data, user) is expected


def test_group_members_may_add_datasets_to_the_group(
    call: Call, dataset: dict[str, t.Any], org: dict[str, t.Any]
) -> None:
    group = call("group_create", {"name": "astronomy"}, user="admin")
    call(
        "member_create",
        {"id": group["id"], "object": "member", "object_type": "user", "capacity": "member"},
        user="admin",
    )
    add = {
        "id": group["id"],
        "object": dataset["id"],
        "object_type": "package",
        "capacity": "public",
    }
    assert allowed(call, "member_create", add, "member")
    assert not allowed(call, "member_create", add, "outsider")
    add_user = {
        "id": group["id"],
        "object": "outsider",
        "object_type": "user",
        "capacity": "member",
    }
    assert not allowed(call, "member_create", add_user, "member")


def test_an_admin_cannot_demote_themselves(call: Call, org: dict[str, t.Any]) -> None:
    with pytest.raises(NotAuthorized, match="cannot revoke their own admin status"):
        call(
            "member_create",
            {"id": org["id"], "object": "admin", "object_type": "user", "capacity": "editor"},
            user="admin",
        )


def test_roles_change_permissions(
    call: Call, org: dict[str, t.Any], dataset: dict[str, t.Any]
) -> None:
    assert not may("package_update", {"id": dataset["id"]}, "member")
    call(
        "member_create",
        {"id": org["id"], "object": "member", "object_type": "user", "capacity": "editor"},
        user="admin",
    )
    assert may("package_update", {"id": dataset["id"]}, "member")


def test_user_create_over_the_api_is_for_sysadmins(
    call: Call, people: t.Any, setting: t.Any
) -> None:
    data = {"name": "newbie", "email": "newbie@example.org", "password": "long-enough"}
    api = {"api_version": 3}
    with pytest.raises(NotAuthorized, match="create users via the API"):
        call("user_create", data, context=api)
    with pytest.raises(NotAuthorized):
        call("user_create", data, user="outsider", context=api)
    assert call("user_create", data, user="sysadmin", context=api)["name"] == "newbie"
    setting("heliograph.auth.create_user_via_api", True)
    assert call("user_create", {**data, "name": "newbie2", "email": "n2@example.org"}, context=api)


def test_user_create_outside_the_api_follows_create_user_via_web(
    call: Call, db: t.Any, setting: t.Any
) -> None:
    data = {"name": "signup", "email": "signup@example.org", "password": "long-enough"}
    setting("heliograph.auth.create_user_via_web", "false")
    with pytest.raises(NotAuthorized, match="Not authorized to create users"):
        call("user_create", data)
    setting("heliograph.auth.create_user_via_web", "true")
    assert call("user_create", data)["name"] == "signup"


def test_user_details_follow_public_user_details(call: Call, people: t.Any, setting: t.Any) -> None:
    assert call("user_show", {"id": "editor"})["name"] == "editor"
    setting("heliograph.auth.public_user_details", False)
    assert not allowed(call, "user_show", {"id": "editor"}, ANON)
    assert not allowed(call, "user_list", {}, ANON)
    assert allowed(call, "user_show", {"id": "editor"}, "outsider")


def test_api_tokens_only_for_yourself_unless_sysadmin(call: Call, people: t.Any) -> None:
    assert allowed(call, "api_token_create", {"user": "editor", "name": "mine"}, "editor")
    assert not allowed(call, "api_token_create", {"user": "editor", "name": "theirs"}, "outsider")
    assert allowed(call, "api_token_create", {"user": "editor", "name": "admin's"}, "sysadmin")


def test_a_deleted_user_fails_every_check(call: Call, dataset: dict[str, t.Any]) -> None:
    session = model.Session()
    editor = session.query(model.User).filter_by(name="editor").one()
    editor.state = "deleted"
    session.commit()
    assert not may("package_update", {"id": dataset["id"]}, "editor")
    assert not may("package_show", {"id": dataset["id"]}, "editor")


def test_sysadmins_pass_every_check(call: Call, dataset: dict[str, t.Any]) -> None:
    for name in ("package_update", "package_delete", "member_create", "organization_create"):
        assert may(name, {"id": dataset["id"]}, "sysadmin")


def test_ignore_auth_skips_the_check(call: Call, private_dataset: dict[str, t.Any]) -> None:
    shown = call("package_show", {"id": "flares"}, context={"ignore_auth": True})
    assert shown["private"] is True


def test_every_core_action_has_an_auth_function() -> None:
    actions = set(logic.registry.actions())
    auth = set(logic.registry.auth_functions())
    assert actions <= auth
    required = {
        "site_read", "status_show", "package_create", "package_show", "package_update",
        "package_patch", "package_delete", "package_list", "package_search", "resource_create",
        "resource_show", "resource_update", "resource_delete", "organization_create",
        "organization_show", "organization_list", "group_create", "group_show", "group_list",
        "member_create", "user_create", "user_show", "user_list", "api_token_create",
    }  # fmt: skip
    assert required <= actions


def test_read_actions_are_side_effect_free_and_writes_are_not() -> None:
    actions = logic.registry.actions()
    for name in ("package_show", "package_search", "status_show", "user_list", "organization_list"):
        assert logic.is_side_effect_free(actions[name]), name
    for name in ("package_create", "member_create", "api_token_create", "resource_delete"):
        assert not logic.is_side_effect_free(actions[name]), name


def test_every_core_action_has_its_auth_function_and_every_auth_function_its_action() -> None:
    actions = set(core_action_modules.collect())
    auth_functions = set(core_auth_modules.collect())
    assert {"package_create", "package_show", "user_update", "job_list"} <= actions
    assert sorted(actions - auth_functions) == [], "actions without an auth function"
    assert sorted(auth_functions - actions) == [], "auth functions without an action"
