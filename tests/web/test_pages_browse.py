"""Browsing pages over the real actions, on both databases: home, the dataset
list with search and paging, the dataset page, organizations and groups."""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.web.accounts_helpers import log_in
from tests.web.pages_helpers import call, make_portal

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def portal(app: Flask) -> dict[str, t.Any]:
    return make_portal()


def _text(response: t.Any) -> str:
    assert response.status_code == 200, response.status_code
    return str(response.get_data(as_text=True))


def test_home_shows_recent_datasets_and_a_search_box(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    html = _text(client.get("/"))
    assert 'action="/dataset/"' in html and 'name="q"' in html
    assert 'href="/dataset/sunspots"' in html
    assert "Solar flares" not in html  # private, and the caller is anonymous


def test_dataset_list_searches_with_q(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    html = _text(client.get("/dataset/?q=sunspot"))
    assert "1 dataset found" in html
    assert "Sunspot counts" in html
    assert "0 datasets found" in _text(client.get("/dataset/?q=nothing-like-this"))


def test_dataset_list_pages_through_results(client: FlaskClient, app: Flask) -> None:
    make_portal()
    for number in range(23):
        call("package_create", {"name": f"batch-{number:02d}", "owner_org": "sun-watchers"})
    first = _text(client.get("/dataset/?q=batch"))
    assert "23 datasets found" in first
    assert len(re.findall(r'href="/dataset/batch-\d\d"', first)) == 20
    assert 'href="/dataset/?q=batch&amp;page=2"' in first
    assert "Previous" not in first
    second = _text(client.get("/dataset/?q=batch&page=2"))
    assert len(re.findall(r'href="/dataset/batch-\d\d"', second)) == 3
    assert 'href="/dataset/?q=batch&amp;page=1"' in second
    assert "Next" not in second
    shown = set(re.findall(r'href="/dataset/(batch-\d\d)"', first + second))
    assert len(shown) == 23


def test_private_datasets_are_not_listed_to_outsiders(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    assert "Solar flares" not in _text(client.get("/dataset/"))
    log_in(client, "outsider")
    assert "Solar flares" not in _text(client.get("/dataset/"))
    assert "Solar flares" not in _text(client.get("/"))
    assert "Solar flares" not in _text(client.get("/organization/sun-watchers"))


def test_private_datasets_are_listed_to_members(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    assert "Solar flares" in _text(client.get("/dataset/"))


def test_dataset_page_lists_resources_with_download_links(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    resource = portal["public"]["resources"][0]
    html = _text(client.get("/dataset/sunspots"))
    assert "Sunspot counts" in html and "Daily numbers" in html and "Sun Watchers" in html
    assert "Counts CSV" in html and "CSV" in html
    assert f'href="/dataset/sunspots/resource/{resource["id"]}/download"' in html
    assert "/dataset/edit/sunspots" not in html  # anonymous may not edit


def test_dataset_page_offers_editing_to_editors(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    html = _text(client.get("/dataset/sunspots"))
    assert 'href="/dataset/edit/sunspots"' in html
    assert 'href="/dataset/sunspots/resource/new"' in html


def test_resource_page_has_its_download_link(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    resource_id = portal["public"]["resources"][0]["id"]
    html = _text(client.get(f"/dataset/sunspots/resource/{resource_id}"))
    assert f'href="/dataset/sunspots/resource/{resource_id}/download"' in html


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/organization/", ["Sun Watchers", 'href="/organization/sun-watchers"']),
        ("/organization/sun-watchers", ["Sun Watchers", "Sunspot counts"]),
        ("/group/", ["Astronomy", 'href="/group/astronomy"']),
        ("/group/astronomy", ["Astronomy", "Stars", "Sunspot counts"]),
    ],
)
def test_organization_and_group_pages(
    client: FlaskClient, portal: dict[str, t.Any], path: str, expected: list[str]
) -> None:
    html = _text(client.get(path))
    for text in expected:
        assert text in html


def test_titles_are_escaped(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    call(
        "package_create",
        {"name": "xss", "title": "<b>bold</b> & co", "owner_org": "sun-watchers"},
    )
    for path in ("/", "/dataset/", "/dataset/xss"):
        html = _text(client.get(path))
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html
        assert "<b>bold</b>" not in html
