"""resource_create / show / update / delete, all through package_update."""

from __future__ import annotations

import typing as t

import pytest

from heliograph.config import config
from heliograph.logic import ObjectNotFound, ValidationError

Call = t.Callable[..., t.Any]


def test_resource_create_appends_and_returns_the_resource(
    call: Call, dataset: dict[str, t.Any]
) -> None:
    res = call(
        "resource_create",
        {
            "package_id": "sunspots",
            "url": "http://example.org/b.json",
            "name": "B",
            "format": "json",
            "size": "1024",
            "last_modified": "2024-05-01T12:00:00Z",
            "licence_note": "see the dataset",
        },
        user="editor",
    )
    assert res["package_id"] == dataset["id"] and res["position"] == 1
    assert res["format"] == "JSON" and res["size"] == 1024
    assert res["last_modified"] == "2024-05-01T12:00:00"
    assert res["licence_note"] == "see the dataset"
    assert call("resource_show", {"id": res["id"]}) == res
    pkg = call("package_show", {"id": "sunspots"})
    assert [r["id"] for r in pkg["resources"]] == [dataset["resources"][0]["id"], res["id"]]
    assert pkg["num_resources"] == 2


def test_resource_create_errors_are_unwrapped(call: Call, dataset: dict[str, t.Any]) -> None:
    with pytest.raises(ValidationError) as info:
        call("resource_create", {"package_id": "sunspots", "size": [1]}, user="editor")
    assert info.value.error_dict == {"size": ["Invalid integer"]}
    with pytest.raises(ValidationError) as missing:
        call("resource_create", {"url": "http://x"}, user="editor")
    assert missing.value.error_dict == {"package_id": ["Missing value"]}
    with pytest.raises(ObjectNotFound):
        call("resource_create", {"package_id": "nope"}, user="editor")


def test_resource_url_defaults_to_empty(call: Call, dataset: dict[str, t.Any]) -> None:
    res = call("resource_create", {"package_id": "sunspots", "name": "no url"}, user="editor")
    assert res["url"] == ""


def test_resource_update_replaces_the_resource(call: Call, dataset: dict[str, t.Any]) -> None:
    res_id = dataset["resources"][0]["id"]
    call("resource_create", {"package_id": "sunspots", "url": "http://x/2"}, user="editor")
    updated = call(
        "resource_update",
        {"id": res_id, "url": "http://example.org/v2.csv", "extra": 1},
        user="editor",
    )
    assert updated["id"] == res_id and updated["url"] == "http://example.org/v2.csv"
    assert updated["name"] is None  # left out: cleared, as CKAN warns
    assert updated["extra"] == 1
    assert updated["created"] == dataset["resources"][0]["created"]
    assert call("package_show", {"id": "sunspots"})["num_resources"] == 2


def test_resource_update_validation_and_missing(call: Call, dataset: dict[str, t.Any]) -> None:
    res_id = dataset["resources"][0]["id"]
    with pytest.raises(ValidationError) as info:
        call("resource_update", {"id": res_id, "url": {"a": 1}}, user="editor")
    assert info.value.error_dict == {"url": ["Must be a string"]}
    with pytest.raises(ObjectNotFound):
        call("resource_update", {"id": "nope"}, user="editor")


def test_resource_delete(call: Call, dataset: dict[str, t.Any]) -> None:
    res_id = dataset["resources"][0]["id"]
    assert call("resource_delete", {"id": res_id}, user="editor") is None
    assert call("package_show", {"id": "sunspots"})["resources"] == []
    with pytest.raises(ObjectNotFound):
        call("resource_show", {"id": res_id})
    with pytest.raises(ObjectNotFound):
        call("resource_delete", {"id": res_id}, user="editor")


def test_resource_show_of_nothing(call: Call, db: t.Any) -> None:
    with pytest.raises(ObjectNotFound):
        call("resource_show", {"id": "nope"})
    with pytest.raises(ValidationError):
        call("resource_show", {})


def test_uploaded_resources_get_a_download_url(call: Call, dataset: dict[str, t.Any]) -> None:
    config["heliograph.site_url"] = "http://portal.test"
    res = call(
        "resource_create",
        {"package_id": "sunspots", "url": "counts.csv", "url_type": "upload"},
        user="editor",
    )
    expected = (
        f"http://portal.test/dataset/{dataset['id']}/resource/{res['id']}/download/counts.csv"
    )
    assert res["url"] == expected
    # the full URL sent back (package_show -> package_update) is stored as the file name again
    again = call("package_patch", {"id": "sunspots", "notes": "x"}, user="editor")
    assert again["resources"][-1]["url"] == expected
