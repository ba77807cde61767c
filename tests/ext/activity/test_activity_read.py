"""The read actions: paging, visibility, show and diff."""

from __future__ import annotations

import collections.abc as c
import datetime as dt
import json
import re
import typing as t
import uuid

import pytest
import sqlalchemy as sa

from heliograph import model
from heliograph.ext.activity import tables
from heliograph.logic import NotAuthorized, ObjectNotFound, ValidationError

Call = c.Callable[..., t.Any]
EPOCH = dt.datetime(2026, 1, 1, 12, 0, 0)


def _unix(moment: dt.datetime) -> float:
    return moment.replace(tzinfo=dt.UTC).timestamp()


@pytest.fixture
def stream(activity_tables: sa.Engine, dataset: dict[str, t.Any]) -> list[str]:
    """120 activities about the dataset, one a minute from EPOCH, inserted
    directly (oldest first); returns their ids."""
    ids = [str(uuid.uuid4()) for _ in range(120)]
    rows = [
        {
            "id": activity_id,
            "timestamp": EPOCH + dt.timedelta(minutes=i),
            "user_id": None,
            "object_id": dataset["id"],
            "activity_type": "changed package",
            "data": json.dumps({"package": {"id": dataset["id"], "notes": f"n{i}"}}),
        }
        for i, activity_id in enumerate(ids)
    ]
    scope = [{"activity_id": a, "kind": "label", "value": "public"} for a in ids]
    with activity_tables.begin() as conn:
        conn.execute(sa.delete(tables.activity))
        conn.execute(tables.activity.insert(), rows)
        conn.execute(tables.activity_scope.insert(), scope)
    return ids


def _ids(result: list[dict[str, t.Any]]) -> list[str]:
    return [activity["id"] for activity in result]


# -- paging ----------------------------------------------------------------------


def test_lists_are_newest_first_with_31_by_default(call: Call, stream: list[str]) -> None:
    page = call("package_activity_list", {"id": "sunspots"})
    assert _ids(page) == stream[::-1][:31]


def test_limit_is_capped_at_100_and_offset_pages(call: Call, stream: list[str]) -> None:
    assert len(call("package_activity_list", {"id": "sunspots", "limit": 1000})) == 100
    page = call("package_activity_list", {"id": "sunspots", "limit": "5", "offset": "10"})
    assert _ids(page) == stream[::-1][10:15]


def test_before_and_after_are_exclusive_timestamps(call: Call, stream: list[str]) -> None:
    before = _unix(EPOCH + dt.timedelta(minutes=50))
    page = call("package_activity_list", {"id": "sunspots", "before": before, "limit": 3})
    assert _ids(page) == [stream[49], stream[48], stream[47]]
    after = _unix(EPOCH + dt.timedelta(minutes=50))
    page = call("package_activity_list", {"id": "sunspots", "after": str(after), "limit": 3})
    assert _ids(page) == [stream[53], stream[52], stream[51]]  # oldest after, newest first
    both = {"id": "sunspots", "after": after, "before": before + 300}
    assert _ids(call("package_activity_list", both)) == stream[51:55][::-1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "many"}, "limit"),
        ({"limit": -1}, "limit"),
        ({"offset": "x"}, "offset"),
        ({"before": "yesterday"}, "before"),
        ({"after": [1]}, "after"),
        ({"include_data": "perhaps"}, "include_data"),
        ({"activity_types": ["new package"], "exclude_activity_types": ["x"]}, "activity_types"),
        ({"activity_types": [3]}, "activity_types"),
        ({"id": ""}, "id"),
    ],
)
def test_bad_parameters_name_the_field(
    call: Call, dataset: dict[str, t.Any], params: dict[str, t.Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        call("package_activity_list", {"id": "sunspots", **params})
    assert field in caught.value.error_dict


def test_activity_types_filter_and_exclude(call: Call, dataset: dict[str, t.Any]) -> None:
    call("package_patch", {"id": "sunspots", "notes": "x"}, user="editor")
    only_new = call("package_activity_list", {"id": "sunspots", "activity_types": "new package"})
    assert [a["activity_type"] for a in only_new] == ["new package"]
    no_new = {"id": "sunspots", "exclude_activity_types": ["new package"]}
    assert [a["activity_type"] for a in call("package_activity_list", no_new)] == [
        "changed package"
    ]


def test_lists_summarise_data_unless_asked(call: Call, dataset: dict[str, t.Any]) -> None:
    (summary,) = call("package_activity_list", {"id": "sunspots"})
    assert summary["data"]["package"] == {
        key: dataset[key] for key in ("id", "name", "title", "type", "state")
    }
    assert summary["data"]["actor"] == "editor"
    assert set(summary) == {
        "id",
        "timestamp",
        "user_id",
        "object_id",
        "activity_type",
        "data",
        "permission_labels",
    }
    assert summary["permission_labels"] == ["public"]
    dt.datetime.fromisoformat(summary["timestamp"])
    (full,) = call("package_activity_list", {"id": "sunspots", "include_data": True})
    assert full["data"]["package"]["notes"] == "Daily sunspot numbers"


# -- the streams -----------------------------------------------------------------


def test_organization_stream_holds_the_org_and_its_datasets(
    call: Call, org: dict[str, t.Any], dataset: dict[str, t.Any]
) -> None:
    types = [a["activity_type"] for a in call("organization_activity_list", {"id": org["name"]})]
    assert types == ["new package", "new organization"]
    with pytest.raises(ObjectNotFound):
        call("group_activity_list", {"id": org["name"]})


def test_group_stream_holds_datasets_added_to_it(
    call: Call, dataset: dict[str, t.Any], people: dict[str, model.User]
) -> None:
    group = call("group_create", {"name": "astronomy"}, user="sysadmin")
    call("package_patch", {"id": "sunspots", "groups": [{"id": group["id"]}]}, user="sysadmin")
    stream = call("group_activity_list", {"id": "astronomy"})
    assert [(a["activity_type"], a["object_id"]) for a in stream] == [
        ("changed package", dataset["id"]),
        ("new group", group["id"]),
    ]


def test_user_stream_holds_what_they_did(
    call: Call, dataset: dict[str, t.Any], people: dict[str, model.User]
) -> None:
    stream = call("user_activity_list", {"id": "editor"})
    assert [(a["activity_type"], a["user_id"]) for a in stream] == [
        ("new package", people["editor"].id)
    ]
    assert call("user_activity_list", {"id": "outsider"}) == []
    with pytest.raises(ObjectNotFound):
        call("user_activity_list", {"id": "nobody-at-all"})


# -- visibility ------------------------------------------------------------------


def test_private_dataset_activities_are_seen_only_by_those_who_see_it(
    call: Call, private_dataset: dict[str, t.Any], dataset: dict[str, t.Any]
) -> None:
    for user in ("member", "editor", "admin", "sysadmin"):
        assert len(call("package_activity_list", {"id": "flares"}, user=user)) == 1
    for user in ("outsider", None):
        with pytest.raises(NotAuthorized):
            call("package_activity_list", {"id": "flares"}, user=user)
    public_view = call("organization_activity_list", {"id": "sun-watchers"}, user="outsider")
    assert private_dataset["id"] not in [a["object_id"] for a in public_view]
    assert dataset["id"] in [a["object_id"] for a in public_view]
    member_view = call("organization_activity_list", {"id": "sun-watchers"}, user="member")
    assert private_dataset["id"] in [a["object_id"] for a in member_view]
    editor_stream = call("user_activity_list", {"id": "editor"}, user="outsider")
    assert private_dataset["id"] not in [a["object_id"] for a in editor_stream]


def test_labels_are_those_at_the_time_of_the_activity(
    call: Call, private_dataset: dict[str, t.Any]
) -> None:
    call("package_patch", {"id": "flares", "private": False}, user="editor")
    seen = call("package_activity_list", {"id": "flares"}, user="outsider")
    assert [a["activity_type"] for a in seen] == ["changed package"]
    assert len(call("package_activity_list", {"id": "flares"}, user="member")) == 2


def test_activity_show_follows_the_dataset(
    call: Call, private_dataset: dict[str, t.Any], org: dict[str, t.Any]
) -> None:
    (activity,) = call("package_activity_list", {"id": "flares"}, user="member")
    shown = call("activity_show", {"id": activity["id"]}, user="member")
    assert shown["data"]["package"]["name"] == "flares"
    assert "notes" in shown["data"]["package"]
    trimmed = call("activity_show", {"id": activity["id"], "include_data": False}, user="member")
    assert "notes" not in trimmed["data"]["package"]
    with pytest.raises(NotAuthorized):
        call("activity_show", {"id": activity["id"]}, user="outsider")
    with pytest.raises(ObjectNotFound):
        call("activity_show", {"id": str(uuid.uuid4())}, user="sysadmin")


def test_only_sysadmins_see_non_dataset_activities_one_by_one(
    call: Call, org: dict[str, t.Any]
) -> None:
    (created,) = call("organization_activity_list", {"id": org["id"]})
    with pytest.raises(NotAuthorized):
        call("activity_show", {"id": created["id"]}, user="admin")
    assert call("activity_show", {"id": created["id"]}, user="sysadmin")["object_id"] == org["id"]


def test_dashboard_needs_a_login_and_shows_the_users_world(
    call: Call, private_dataset: dict[str, t.Any], people: dict[str, model.User]
) -> None:
    with pytest.raises(NotAuthorized):
        call("dashboard_activity_list", {})
    member_sees = [a["object_id"] for a in call("dashboard_activity_list", {}, user="member")]
    assert private_dataset["id"] in member_sees
    assert call("dashboard_activity_list", {}, user="outsider") == []
    everything = call("dashboard_activity_list", {}, user="sysadmin")
    assert {a["activity_type"] for a in everything} == {"new organization", "new package"}


# -- data and diff ---------------------------------------------------------------


def test_activity_diff_shows_the_change(call: Call, dataset: dict[str, t.Any]) -> None:
    call("package_patch", {"id": "sunspots", "notes": "Hourly counts"}, user="editor")
    newest, oldest = call("package_activity_list", {"id": "sunspots"})
    result = call("activity_diff", {"id": newest["id"], "object_type": "package"})
    assert [a["id"] for a in result["activities"]] == [oldest["id"], newest["id"]]
    lines = result["diff"].splitlines()
    assert '-  "notes": "Daily sunspot numbers",' in lines
    assert '+  "notes": "Hourly counts",' in lines
    html = call(
        "activity_diff", {"id": newest["id"], "object_type": "package", "diff_type": "html"}
    )
    assert html["diff"].lstrip().startswith("<table")
    changed = re.sub(r"<[^>]+>", "", html["diff"]).replace("&nbsp;", " ")
    assert "Hourly counts" in changed and "Daily sunspot numbers" in changed
    context = {"id": newest["id"], "object_type": "package", "diff_type": "context"}
    assert "! " in call("activity_diff", context)["diff"]


def test_activity_diff_errors(call: Call, dataset: dict[str, t.Any]) -> None:
    (first,) = call("package_activity_list", {"id": "sunspots"})
    with pytest.raises(ObjectNotFound, match="Previous activity for this object not found"):
        call("activity_diff", {"id": first["id"], "object_type": "package"})
    with pytest.raises(ValidationError) as caught:
        call("activity_diff", {"id": first["id"], "object_type": "package", "diff_type": "x"})
    assert caught.value.error_dict == {"message": "diff_type not recognized"}
    with pytest.raises(ValidationError) as missing:
        call("activity_diff", {"id": first["id"]})
    assert "object_type" in missing.value.error_dict


def test_activity_diff_is_refused_on_a_private_dataset_to_outsiders(
    call: Call, private_dataset: dict[str, t.Any]
) -> None:
    call("package_patch", {"id": "flares", "notes": "secret"}, user="editor")
    newest, _ = call("package_activity_list", {"id": "flares"}, user="member")
    with pytest.raises(NotAuthorized):
        call("activity_diff", {"id": newest["id"], "object_type": "package"}, user="outsider")
    diff = call("activity_diff", {"id": newest["id"], "object_type": "package"}, user="member")
    assert "secret" in diff["diff"]


def test_activity_data_show(call: Call, dataset: dict[str, t.Any]) -> None:
    (activity,) = call("package_activity_list", {"id": "sunspots"})
    package = call("activity_data_show", {"id": activity["id"], "object_type": "package"})
    assert package["notes"] == "Daily sunspot numbers"
    with pytest.raises(ObjectNotFound):
        call("activity_data_show", {"id": activity["id"], "object_type": "group"})
