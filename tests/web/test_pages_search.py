"""Search at /dataset/ and on organization and group pages: facets with
counts, combinable and removable filters in CKAN's URL parameters, sort,
numbered pages and the result count."""

from __future__ import annotations

import html as html_module
import re
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import model
from heliograph.web.views.search import pages
from tests.web.pages_helpers import call, make_portal

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def portal(app: Flask) -> dict[str, t.Any]:
    made = make_portal()
    other = call("organization_create", {"name": "moon-watchers", "title": "Moon Watchers"})
    for name, org, tags, fmt, licence in [
        ("roads-2024", "sun-watchers", ["roads", "traffic"], "CSV", "cc-by"),
        ("roads-2023", "moon-watchers", ["roads"], "JSON", "cc-by"),
        ("rivers", "moon-watchers", ["water"], "CSV", "odc-odbl"),
    ]:
        call(
            "package_create",
            {
                "name": name,
                "title": name.replace("-", " ").title(),
                "owner_org": org,
                "tags": [{"name": tag} for tag in tags],
                "license_id": licence,
                "resources": [{"url": f"http://example.org/{name}", "format": fmt}],
            },
        )
    model.Session.remove()
    return {**made, "other": other}


def _names(page: str) -> list[str]:
    section = page.split('class="results"', 1)[1]
    return re.findall(r'<a href="/dataset/([a-z0-9-]+)">', section)


def _facet(page: str, field: str) -> dict[str, tuple[int, str]]:
    """{display name: (count, link)} of facet ``field``."""
    block = page.split(f'data-facet="{field}"', 1)[1].split("</section>", 1)[0]
    found = re.findall(
        r'<a href="([^"]+)"[^>]*>([^<]+?) <span class="facet-count">\((\d+)\)</span>', block
    )
    return {name: (int(n), html_module.unescape(link)) for link, name, n in found}


def test_facets_show_counts_for_every_field(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    page = client.get("/dataset/").get_data(as_text=True)
    assert "4 datasets found" in page  # the private one is hidden from anonymous
    assert _facet(page, "organization")["Moon Watchers"][0] == 2
    assert _facet(page, "organization")["Sun Watchers"][0] == 2
    assert _facet(page, "tags")["roads"][0] == 2
    assert _facet(page, "groups")["Astronomy"][0] == 1
    assert _facet(page, "res_format")["CSV"][0] == 3  # sunspots too
    licences = _facet(page, "license_id")
    assert licences["Creative Commons Attribution"][0] == 2  # a known licence by its title
    assert licences["Creative Commons Attribution"][1] == "/dataset/?license_id=cc-by"


def test_filters_combine_and_are_removable(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    page = client.get("/dataset/?tags=roads").get_data(as_text=True)
    assert sorted(_names(page)) == ["roads-2023", "roads-2024"]
    assert "2 datasets found" in page
    link = _facet(page, "organization")["Moon Watchers"][1]
    assert link == "/dataset/?tags=roads&organization=moon-watchers"
    both = client.get(link).get_data(as_text=True)
    assert _names(both) == ["roads-2023"]
    assert "Filtered by:" in both
    active = _facet(both, "tags")["roads"][1]
    assert active == "/dataset/?organization=moon-watchers"  # the chosen value's link removes it
    assert sorted(_names(client.get(active).get_data(as_text=True))) == ["rivers", "roads-2023"]
    two_tags = client.get("/dataset/?tags=roads&tags=traffic").get_data(as_text=True)
    assert _names(two_tags) == ["roads-2024"]
    cleared = re.search(r'<a href="([^"]*)">Clear all</a>', both)
    assert cleared and html_module.unescape(cleared.group(1)) == "/dataset/"


def test_sort_by_name_and_last_modified(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    by_name = client.get("/dataset/?sort=title_string+asc").get_data(as_text=True)
    assert _names(by_name) == ["rivers", "roads-2023", "roads-2024", "sunspots"]
    reverse = client.get("/dataset/?sort=title_string+desc").get_data(as_text=True)
    assert _names(reverse) == ["sunspots", "roads-2024", "roads-2023", "rivers"]
    call("package_patch", {"id": "roads-2023", "notes": "touched"})
    model.Session.remove()
    recent = client.get("/dataset/?sort=metadata_modified+desc").get_data(as_text=True)
    assert _names(recent)[0] == "roads-2023"
    assert 'value="metadata_modified desc" selected' in recent
    odd = client.get("/dataset/?sort=drop+table").get_data(as_text=True)  # unknown: relevance
    assert len(_names(odd)) == 4


def test_numbered_pages(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    for number in range(20):
        call("package_create", {"name": f"extra-{number:02d}", "owner_org": "sun-watchers"})
    model.Session.remove()
    first = client.get("/dataset/?q=extra&sort=title_string+asc").get_data(as_text=True)
    assert "20 datasets found" in first  # a page holds 20: no pager
    assert 'aria-label="Pages"' not in first
    call("package_create", {"name": "extra-20", "owner_org": "sun-watchers"})
    model.Session.remove()
    first = client.get("/dataset/?q=extra&sort=title_string+asc").get_data(as_text=True)
    assert "21 datasets found" in first
    next_page = 'href="/dataset/?q=extra&sort=title_string+asc&page=2"'
    assert html_module.unescape(first).count(next_page) == 2
    second = client.get("/dataset/?q=extra&sort=title_string+asc&page=2").get_data(as_text=True)
    assert _names(second) == ["extra-20"]
    assert '<strong aria-current="page">2</strong>' in second
    assert pages(1, 1) == [1]
    assert pages(5, 12) == [1, None, 3, 4, 5, 6, 7, None, 12]
    assert pages(2, 4) == [1, 2, 3, 4]


def test_organization_and_group_pages_have_the_same_facets(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    page = client.get("/organization/moon-watchers").get_data(as_text=True)
    assert sorted(_names(page)) == ["rivers", "roads-2023"]
    assert 'data-facet="organization"' not in page
    link = _facet(page, "tags")["water"][1]
    assert link == "/organization/moon-watchers?tags=water"
    assert _names(client.get(link).get_data(as_text=True)) == ["rivers"]
    group = client.get("/group/astronomy").get_data(as_text=True)
    assert _names(group) == ["sunspots"]
    assert 'data-facet="groups"' not in group and 'data-facet="tags"' in group


def test_odd_filter_values_are_searched_for_not_parsed(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    for value in ['a"b', "x y", "tags:roads", "\\", "-roads"]:
        response = client.get("/dataset/", query_string={"tags": value})
        assert response.status_code == 200, value
        assert "0 datasets found" in response.get_data(as_text=True), value
