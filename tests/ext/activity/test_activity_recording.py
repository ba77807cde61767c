"""Recording: one activity per tracked action, in the action's transaction."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest

import heliograph.plugins as p
from heliograph import model, signals
from heliograph.ext.activity import subscriber
from heliograph.lib import signals as core_signals
from heliograph.logic import NotAuthorized, ValidationError

Call = c.Callable[..., t.Any]
Read = c.Callable[[], list[t.Any]]


def test_package_create_records_one_new_package_by_its_actor(
    call: Call, org: dict[str, t.Any], people: dict[str, model.User], recorded: Read
) -> None:
    before = len(recorded())
    created = call("package_create", {"name": "sunspots", "owner_org": org["id"]}, user="editor")
    new = recorded()[before:]
    assert len(new) == 1
    (activity,) = new
    assert activity.activity_type == "new package"
    assert activity.object_id == created["id"]
    assert activity.user_id == people["editor"].id
    assert activity.data["actor"] == "editor"
    assert activity.data["package"]["name"] == "sunspots"
    assert activity.data["package"]["owner_org"] == org["id"]


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("package_update", lambda d: {**d, "notes": "Hourly counts"}),
        ("package_patch", lambda d: {"id": d["id"], "notes": "Hourly counts"}),
        ("resource_create", lambda d: {"package_id": d["id"], "url": "http://example.org/x"}),
    ],
)
def test_each_change_records_exactly_one_changed_package(
    call: Call,
    dataset: dict[str, t.Any],
    people: dict[str, model.User],
    recorded: Read,
    action: str,
    data: c.Callable[[dict[str, t.Any]], dict[str, t.Any]],
) -> None:
    before = len(recorded())
    call(action, data(dataset), user="admin")
    new = recorded()[before:]
    assert [a.activity_type for a in new] == ["changed package"]
    assert new[0].object_id == dataset["id"]
    assert new[0].user_id == people["admin"].id


def test_resource_update_and_delete_record_one_changed_package_each(
    call: Call, dataset: dict[str, t.Any], recorded: Read
) -> None:
    resource = call(
        "resource_create", {"package_id": dataset["id"], "url": "http://a.org/r"}, user="editor"
    )
    before = len(recorded())
    call("resource_update", {"id": resource["id"], "url": "http://a.org/s"}, user="editor")
    call("resource_delete", {"id": resource["id"]}, user="editor")
    new = recorded()[before:]
    assert [a.activity_type for a in new] == ["changed package", "changed package"]
    assert [r["url"] for r in new[0].data["package"]["resources"]] == [
        "http://example.org/s.csv",
        "http://a.org/s",
    ]
    assert [r["url"] for r in new[1].data["package"]["resources"]] == ["http://example.org/s.csv"]


def test_the_snapshot_is_the_dataset_after_the_change(
    call: Call, dataset: dict[str, t.Any], recorded: Read
) -> None:
    call("package_patch", {"id": dataset["id"], "notes": "Hourly counts"}, user="editor")
    assert recorded()[-1].data["package"]["notes"] == "Hourly counts"
    assert recorded()[-2].data["package"]["notes"] == "Daily sunspot numbers"


def test_package_delete_records_a_deleted_package(
    call: Call, dataset: dict[str, t.Any], recorded: Read
) -> None:
    before = len(recorded())
    call("package_delete", {"id": "sunspots"}, user="admin")
    new = recorded()[before:]
    assert [a.activity_type for a in new] == ["deleted package"]
    assert new[0].object_id == dataset["id"]
    assert new[0].data["package"]["state"] == "deleted"


def test_organization_and_group_creation_are_recorded_under_group(
    call: Call, people: dict[str, model.User], recorded: Read
) -> None:
    org = call("organization_create", {"name": "moon-watchers"}, user="admin")
    group = call("group_create", {"name": "astronomy"}, user="sysadmin")
    new = recorded()
    assert [(a.activity_type, a.object_id) for a in new] == [
        ("new organization", org["id"]),
        ("new group", group["id"]),
    ]
    assert new[0].user_id == people["admin"].id
    assert new[0].data["group"]["name"] == "moon-watchers"
    assert new[1].user_id == people["sysadmin"].id


def test_user_create_records_new_user_without_secrets(
    call: Call, people: dict[str, model.User], recorded: Read
) -> None:
    made = call(
        "user_create",
        {"name": "newcomer", "email": "n@example.org", "password": "correct horse battery"},
        user="sysadmin",
    )
    (activity,) = recorded()
    assert activity.activity_type == "new user"
    assert activity.object_id == made["id"]
    assert activity.user_id == people["sysadmin"].id
    assert activity.data["user"]["name"] == "newcomer"
    text = repr(activity.data)
    assert "n@example.org" not in text and "correct horse" not in text
    assert "apikey" not in activity.data["user"] and "email" not in activity.data["user"]


def test_self_registration_is_recorded_with_the_new_user_as_actor(
    call: Call, db: t.Any, recorded: Read
) -> None:
    made = call(
        "user_create",
        {"name": "selfmade", "email": "s@example.org", "password": "correct horse battery"},
        context={"ignore_auth": True},
    )
    (activity,) = recorded()
    assert (activity.activity_type, activity.user_id) == ("new user", made["id"])


def test_reads_and_untracked_actions_record_nothing(
    call: Call, dataset: dict[str, t.Any], people: dict[str, model.User], recorded: Read
) -> None:
    before = len(recorded())
    call("package_show", {"id": "sunspots"})
    call("package_search", {})
    call("organization_show", {"id": "sun-watchers"})
    call(
        "member_create",
        {"id": "sun-watchers", "object": "outsider", "object_type": "user", "capacity": "member"},
        user="admin",
    )
    assert len(recorded()) == before


# -- failures --------------------------------------------------------------------


def test_a_failed_action_records_nothing(
    call: Call, dataset: dict[str, t.Any], recorded: Read
) -> None:
    before = len(recorded())
    with pytest.raises(ValidationError):
        call("package_create", {"name": "Not A Valid Name!"}, user="editor")
    with pytest.raises(NotAuthorized):
        call("package_patch", {"id": "sunspots", "notes": "x"}, user="outsider")
    with pytest.raises(ValidationError):
        call("package_patch", {"id": "sunspots", "name": ""}, user="editor")
    assert len(recorded()) == before


class _FailsAfterUpdate(p.SingletonPlugin):
    """An action that updates a dataset through package_update, then fails."""

    p.implements(p.IActions)

    def get_actions(self) -> dict[str, t.Any]:
        def update_then_fail(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> None:
            p.toolkit.get_action("package_patch")(context, {"id": data_dict["id"], "notes": "x"})
            raise p.toolkit.ValidationError({"after": ["failed after the update"]})

        return {"update_then_fail": update_then_fail}


def test_an_outer_failure_rolls_back_the_nested_change_and_its_activity(
    call: Call, dataset: dict[str, t.Any], recorded: Read, with_plugins: t.Any
) -> None:
    with_plugins.register("fails_after_update", _FailsAfterUpdate)
    with_plugins("fails_after_update")
    before = len(recorded())
    with pytest.raises(ValidationError, match="failed after the update"):
        call("update_then_fail", {"id": dataset["id"]}, user="editor")
    assert len(recorded()) == before
    assert call("package_show", {"id": dataset["id"]})["notes"] == "Daily sunspot numbers"


@pytest.mark.usefixtures("production_switches")
def test_an_activity_that_cannot_be_recorded_vetoes_the_change(
    call: Call, dataset: dict[str, t.Any], recorded: Read, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: t.Any) -> t.NoReturn:
        raise RuntimeError("snapshot failed")

    monkeypatch.setattr(subscriber, "_snapshot", broken)
    before = len(recorded())
    with pytest.raises(ValidationError) as caught:
        call("package_patch", {"id": dataset["id"], "notes": "Never saved"}, user="editor")
    assert "activity" in caught.value.error_dict
    assert len(recorded()) == before
    monkeypatch.undo()
    assert call("package_show", {"id": dataset["id"]})["notes"] == "Daily sunspot numbers"


def test_an_unknown_actor_vetoes_the_change_as_in_ckan(
    call: Call, dataset: dict[str, t.Any], recorded: Read
) -> None:
    before = len(recorded())
    with pytest.raises(ValidationError) as caught:
        call(
            "package_patch",
            {"id": dataset["id"], "notes": "by nobody"},
            user="ghost",
            context={"ignore_auth": True},
        )
    assert caught.value.error_dict == {"user_id": ["User not found"]}
    assert len(recorded()) == before


# -- the plugin's footprint ------------------------------------------------------


def test_subscriptions_are_filtered_by_sender() -> None:
    (mine,) = [
        info
        for info in core_signals.action_succeeded.receiver_info()
        if info.receiver is subscriber.record
    ]
    assert sorted(mine.senders) == sorted(subscriber.TRACKED)
    assert set(mine.owners) == {"activity"}


def test_the_guard_is_on_while_recording(call: Call, dataset: dict[str, t.Any]) -> None:
    # strict mode (the pytest plugin's default) raises if a subscriber mutates
    # the arguments; recording ran above without SignalArgumentMutated
    assert signals.settings()["guard_arguments"] is True
    call("package_patch", {"id": dataset["id"], "notes": "guarded"}, user="editor")


def test_unloading_the_plugin_stops_recording_and_the_core_works(
    call: Call, dataset: dict[str, t.Any], recorded: Read
) -> None:
    before = len(recorded())
    p.unload("activity")
    updated = call("package_patch", {"id": dataset["id"], "notes": "unrecorded"}, user="editor")
    assert updated["notes"] == "unrecorded"
    assert call("package_show", {"id": dataset["id"]})["notes"] == "unrecorded"
    assert len(recorded()) == before
    assert not any(
        info.receiver is subscriber.record for info in core_signals.action_succeeded.receiver_info()
    )
    p.load("activity")
    call("package_patch", {"id": dataset["id"], "notes": "recorded again"}, user="editor")
    assert [a.data["package"]["notes"] for a in recorded()[before:]] == ["recorded again"]


def test_the_plugin_tables_match_its_migrations(activity_tables: t.Any) -> None:
    from heliograph.ext.activity import tables
    from tests.model.test_migrations import schema_diff

    assert schema_diff(activity_tables, tables.metadata) == []


@pytest.mark.parametrize(
    ("action", "kind", "expected"),
    [
        ("organization_patch", "organization", "changed organization"),
        ("organization_update", "organization", "changed organization"),
        ("organization_delete", "organization", "deleted organization"),
        ("group_patch", "group", "changed group"),
        ("group_update", "group", "changed group"),
        ("group_delete", "group", "deleted group"),
    ],
)
def test_group_and_organization_changes_record_one_activity_each(
    call: Call,
    people: dict[str, model.User],
    recorded: Read,
    action: str,
    kind: str,
    expected: str,
) -> None:
    made = call(f"{kind}_create", {"name": "watchers"}, user="admin")
    before = len(recorded())
    data = {"id": made["id"]} if action.endswith("delete") else {"id": made["id"], "title": "W"}
    call(action, data, user="admin")
    new = recorded()[before:]
    assert [(a.activity_type, a.object_id, a.user_id) for a in new] == [
        (expected, made["id"], people["admin"].id)
    ]
    snapshot = new[0].data["group"]
    assert snapshot["state"] == ("deleted" if action.endswith("delete") else "active")
    if not action.endswith("delete"):
        assert snapshot["title"] == "W"


def test_user_update_records_a_changed_user_and_delete_nothing(
    call: Call, people: dict[str, model.User], recorded: Read
) -> None:
    call("user_update", {"id": "editor", "fullname": "Ed Itor"}, user="editor")
    (changed,) = recorded()
    assert (changed.activity_type, changed.object_id, changed.user_id) == (
        "changed user",
        people["editor"].id,
        people["editor"].id,
    )
    assert changed.data["user"]["fullname"] == "Ed Itor"
    assert "email" not in changed.data["user"]
    call("user_delete", {"id": "outsider"}, user="sysadmin")
    assert len(recorded()) == 1  # as CKAN: deleting a user records nothing


@pytest.mark.parametrize("kind", ["organization", "group"])
def test_group_snapshots_carry_no_counts_an_anonymous_reader_could_not_see(
    call: Call, org: dict[str, t.Any], recorded: Read, kind: str
) -> None:
    group = call("group_create", {"name": "stargazers"}, user="admin")
    call(
        "package_create",
        {
            "name": "hidden-flares",
            "owner_org": org["id"],
            "private": True,
            "groups": [{"id": group["id"]}],
        },
        user="sysadmin",
    )
    target = org if kind == "organization" else group
    assert call(f"{kind}_show", {"id": target["id"]}, user="admin")["package_count"] == 1
    call(f"{kind}_update", {"id": target["id"], "title": "Renamed"}, user="admin")
    anonymous = call(f"{kind}_activity_list", {"id": target["id"], "include_data": True})
    snapshots = [a["data"]["group"] for a in anonymous if "group" in a["data"]]
    assert snapshots[0]["title"] == "Renamed"
    assert all("package_count" not in s and "member_count" not in s for s in snapshots)
    assert all("package_count" not in a.data.get("group", {}) for a in recorded())


def test_renaming_yourself_is_recorded_under_your_account(
    call: Call, people: dict[str, model.User], recorded: Read
) -> None:
    renamed = call("user_update", {"id": "editor", "name": "ed-itor"}, user="editor")
    assert renamed["name"] == "ed-itor"
    (changed,) = [a for a in recorded() if a.activity_type == "changed user"]
    assert (changed.object_id, changed.user_id) == (people["editor"].id, people["editor"].id)
    assert changed.data["user"]["name"] == "ed-itor"
    assert changed.data["actor"] == "ed-itor"
    assert call("user_show", {"id": "ed-itor"})["id"] == people["editor"].id
