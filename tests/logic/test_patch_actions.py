"""resource_patch and user_patch: CKAN's patch actions change only what they are given."""

from __future__ import annotations

import collections.abc as c
import typing as t

import pytest

from heliograph.logic import NotAuthorized, ObjectNotFound, ValidationError

Call = c.Callable[..., t.Any]


def test_resource_patch_changes_only_the_given_fields(
    call: Call, dataset: dict[str, t.Any], sent: list[tuple[t.Any, dict[str, t.Any]]]
) -> None:
    (resource,) = dataset["resources"]
    call("resource_update", {**resource, "format": "CSV", "colour": "red"}, user="editor")
    sent.clear()
    patched = call("resource_patch", {"id": resource["id"], "name": "Renamed"}, user="editor")
    assert patched["name"] == "Renamed"
    assert (patched["url"], patched["format"], patched["colour"]) == (
        "http://example.org/s.csv",
        "CSV",
        "red",
    )
    names = [sender for sender, _ in sent]
    assert names[-1] == "resource_patch" and "resource_update" in names
    shown = call("resource_show", {"id": resource["id"]})
    assert shown["name"] == "Renamed" and shown["format"] == "CSV"


def test_resource_patch_refuses_what_resource_update_refuses(
    call: Call, dataset: dict[str, t.Any]
) -> None:
    (resource,) = dataset["resources"]
    with pytest.raises(NotAuthorized):
        call("resource_patch", {"id": resource["id"], "name": "x"}, user="member")
    with pytest.raises(NotAuthorized):
        call("resource_patch", {"id": resource["id"], "name": "x"})
    with pytest.raises(ObjectNotFound):
        call("resource_patch", {"id": "no-such-resource", "name": "x"}, user="editor")
    with pytest.raises(ValidationError) as missing:
        call("resource_patch", {"name": "x"}, user="editor")
    assert missing.value.error_dict == {"id": ["Missing value"]}


def test_user_patch_changes_only_the_given_fields(call: Call, people: dict[str, t.Any]) -> None:
    call("user_update", {"id": "editor", "fullname": "Ed Itor", "about": "Sun"}, user="editor")
    patched = call("user_patch", {"id": "editor", "about": "Moon"}, user="editor")
    assert (patched["fullname"], patched["about"], patched["email"]) == (
        "Ed Itor",
        "Moon",
        "editor@example.org",
    )
    with pytest.raises(NotAuthorized):
        call("user_patch", {"id": "editor", "about": "x"}, user="outsider")
    with pytest.raises(ObjectNotFound):
        call("user_patch", {"id": "nobody", "about": "x"}, user="sysadmin")
    assert call("user_patch", {"id": "editor", "about": "Stars"}, user="sysadmin")["about"] == (
        "Stars"
    )
