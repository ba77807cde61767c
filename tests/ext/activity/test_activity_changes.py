"""The changes page: a summary in words of what an update changed, field by
field before and after, and the line diff below, every value escaped."""

from __future__ import annotations

import collections.abc as c
import html
import re
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from heliograph.ext.activity.changes import summarize

Call = c.Callable[..., t.Any]


@pytest.fixture
def app(activity_tables: sa.Engine, tmp_path: Path) -> Flask:
    from heliograph.web import make_app

    return make_app(
        {
            "sqlalchemy.url": activity_tables.url.render_as_string(hide_password=False),
            "heliograph.instance_path": str(tmp_path),
            "heliograph.plugins": "activity",
        }
    )


def _summary(body: str) -> list[str]:
    block = body[body.index('<ul class="change-summary">') :]
    block = block[: block.index("</ul>")]
    items = re.findall(r"<li[^>]*>(.*?)</li>", block, re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", item)).split()) for item in items]


def test_the_summary_says_in_words_what_an_update_changed(
    app: Flask, call: Call, dataset: dict[str, t.Any]
) -> None:
    call(
        "package_patch",
        {
            "id": "sunspots",
            "title": "Sunspot numbers",
            "notes": "Hourly",
            "version": "2",
            "license_id": "cc-by",
            "tags": [{"name": "sun"}, {"name": "space weather"}],
            "extras": [{"key": "spatial", "value": "Earth"}],
        },
        user="editor",
    )
    newest = call("package_activity_list", {"id": "sunspots"})[0]
    body = app.test_client().get(f"/dataset/changes/{newest['id']}").get_data(as_text=True)
    lines = _summary(body)
    assert "editor changed the title to “Sunspot numbers” (was “Sunspot counts”)." in lines
    assert "editor updated the description." in lines
    assert "editor set the version to “2”." in lines
    assert "editor changed the licence to “Creative Commons Attribution”." in lines
    assert "editor added the tag “space weather”." in lines
    assert "editor added the field “spatial” with the value “Earth”." in lines
    assert len(lines) == 6
    table = body[body.index('<table class="changes">') :]
    assert "<del>Daily sunspot numbers</del>" in table and "<ins>Hourly</ins>" in table
    assert 'class="unified-diff"' in body


def test_removals_and_resource_changes_are_named() -> None:
    before = {
        "title": "A",
        "author": "Ada",
        "private": False,
        "tags": [{"name": "old"}],
        "groups": [{"name": "g", "title": "Geology"}],
        "extras": [{"key": "k", "value": "1"}],
        "resources": [
            {"id": "r1", "name": "Counts", "format": "CSV", "url": "http://x/a.csv"},
            {"id": "r2", "name": "Gone"},
        ],
    }
    after = {
        "title": "A",
        "private": True,
        "tags": [],
        "groups": [],
        "extras": [{"key": "k", "value": "2"}],
        "resources": [
            {"id": "r1", "name": "Counts", "format": "JSON", "url": "http://x/a.csv"},
            {"id": "r3", "name": "New one"},
        ],
    }
    texts = [change.text for change in summarize(before, after)]
    assert texts == [
        "Removed the author (was “Ada”).",
        "Set the visibility to Private.",
        "Removed the tag “old”.",
        "Removed the dataset from the group “Geology”.",
        "Changed the value of the field “k” to “2”.",
        "Changed the format of the resource “Counts” to “JSON”.",
        "Added the resource “New one”.",
        "Removed the resource “Gone”.",
    ]
    assert summarize(before, before) == []


def test_a_field_the_summary_does_not_know_is_still_listed() -> None:
    (change,) = summarize({"custom": "a"}, {"custom": "b"})
    assert (change.field, change.kind, change.before, change.after) == (
        "custom",
        "changed",
        "a",
        "b",
    )


def test_hostile_values_are_escaped_in_the_summary_and_table(
    app: Flask, call: Call, dataset: dict[str, t.Any]
) -> None:
    call(
        "package_patch", {"id": "sunspots", "title": "<img src=x onerror=alert(1)>"}, user="editor"
    )
    newest = call("package_activity_list", {"id": "sunspots"})[0]
    body = app.test_client().get(f"/dataset/changes/{newest['id']}").get_data(as_text=True)
    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


def test_a_long_description_wraps_instead_of_widening_the_page(
    app: Flask, call: Call, dataset: dict[str, t.Any]
) -> None:
    call("package_patch", {"id": "sunspots", "notes": "x" * 3000}, user="editor")
    newest = call("package_activity_list", {"id": "sunspots"})[0]
    body = app.test_client().get(f"/dataset/changes/{newest['id']}").get_data(as_text=True)
    assert "nowrap" not in body  # difflib's side-by-side table is gone
    assert "editor updated the description." in _summary(body)
