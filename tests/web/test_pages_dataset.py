"""The dataset page: its metadata table, tags, groups, safe Markdown notes, the
licence drop-down, the name made from the title, and delete with a confirmation."""

from __future__ import annotations

import html.parser
import re
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import logic, model
from heliograph.lib import signals
from heliograph.web.views.forms import slug_from_title
from tests.web.accounts_helpers import log_in, recording
from tests.web.pages_helpers import call, csrf_from, make_portal

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def portal(app: Flask) -> dict[str, t.Any]:
    return make_portal()


def _show(name: str) -> dict[str, t.Any]:
    result: dict[str, t.Any] = logic.get_action("package_show")({"ignore_auth": True}, {"id": name})
    model.Session.remove()
    return result


def _html(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def _row(html: str, heading: str) -> str:
    found = re.search(rf'<th scope="row">{re.escape(heading)}</th><td[^>]*>(.*?)</td>', html, re.S)
    assert found, f"no {heading} row in the metadata table"
    return found.group(1).strip()


def test_the_metadata_table_shows_licence_people_version_dates_and_extras(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    call(
        "package_patch",
        {
            "id": "sunspots",
            "license_id": "cc-by",
            "author": "Ada",
            "author_email": "ada@example.org",
            "maintainer": "Bob",
            "version": "2.1",
            "extras": [{"key": "spatial", "value": "Earth"}],
        },
    )
    model.Session.remove()
    shown = _show("sunspots")
    html = _html(client, "/dataset/sunspots")
    licence = _row(html, "Licence")
    assert 'href="http://www.opendefinition.org/licenses/cc-by"' in licence
    assert "Creative Commons Attribution" in licence
    assert _row(html, "Author") == '<a href="mailto:ada@example.org">Ada</a>'
    assert _row(html, "Maintainer") == "Bob"
    assert _row(html, "Version") == "2.1"
    assert shown["metadata_created"][:16].replace("T", " ") in _row(html, "Created")
    assert shown["metadata_modified"][:16].replace("T", " ") in _row(html, "Last modified")
    assert _row(html, "spatial") == "Earth"


def test_tags_link_to_the_search_for_them_and_groups_are_listed(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    call("package_patch", {"id": "sunspots", "tags": [{"name": "solar cycle"}]})
    model.Session.remove()
    html = _html(client, "/dataset/sunspots")
    assert '<a href="/dataset/?tags=solar+cycle">solar cycle</a>' in html
    assert '<a href="/group/astronomy">Astronomy</a>' in html


@pytest.mark.parametrize(
    "payload",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="#" onclick="alert(1)">x</a>',
        '<div style="background:url(javascript:alert(1))" onmouseover=alert(1)>x</div>',
        '![x](x "onerror=alert(1)")',
        "<svg><script>alert(1)</script></svg>",
        '<iframe src="javascript:alert(1)"></iframe>',
    ],
)
def test_notes_are_markdown_with_script_and_event_handlers_removed(
    client: FlaskClient, portal: dict[str, t.Any], payload: str
) -> None:
    notes = f"# Counts\n\nSee **the** [site](https://example.org).\n\n{payload}\n"
    call("package_patch", {"id": "sunspots", "notes": notes})
    model.Session.remove()
    html = _html(client, "/dataset/sunspots")
    notes_html = html[html.index('<div class="notes markdown">') :]
    notes_html = notes_html[: notes_html.index("</div>")]
    assert "<h1>Counts</h1>" in notes_html
    assert "<strong>the</strong>" in notes_html
    assert 'href="https://example.org"' in notes_html
    tags, attributes = _parsed(notes_html)
    assert not tags & {"script", "iframe", "svg", "style", "object", "embed"}, tags
    for tag, name, value in attributes:
        assert not name.startswith("on"), (tag, name)
        assert name != "style", tag
        assert not (value or "").strip().lower().startswith("javascript:"), (tag, name, value)


def _parsed(fragment: str) -> tuple[set[str], list[tuple[str, str, str | None]]]:
    """The tag names and the (tag, attribute, value) triples a browser would see."""
    tags: set[str] = set()
    attributes: list[tuple[str, str, str | None]] = []

    class Parser(html.parser.HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            tags.add(tag)
            attributes.extend((tag, name, value) for name, value in attrs)

    Parser().feed(fragment)
    return tags, attributes


def test_the_licence_is_chosen_from_ckans_licence_list(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    licenses = logic.get_action("license_list")({}, {})
    ids = [item["id"] for item in licenses]
    assert ids[0] == "notspecified" and "cc-by" in ids and "odc-odbl" in ids
    cc_by = next(item for item in licenses if item["id"] == "cc-by")
    assert cc_by["title"] == "Creative Commons Attribution"
    assert cc_by["is_okd_compliant"] is True
    log_in(client, "editor")
    html = _html(client, "/dataset/new")
    select = html[html.index('<select id="license_id"') :]
    select = select[: select.index("</select>")]
    for item in licenses:
        assert f'value="{item["id"]}"' in select
    page = client.post(
        "/dataset/new",
        data={
            "csrf_token": csrf_from(html),
            "title": "Coronal holes",
            "name": "coronal-holes",
            "owner_org": portal["org"]["id"],
            "license_id": "odc-odbl",
        },
    )
    assert page.status_code == 302
    assert _show("coronal-holes")["license_id"] == "odc-odbl"
    edit = _html(client, "/dataset/edit/coronal-holes")
    assert '<option selected value="odc-odbl">' in edit


def test_license_list_over_the_api_is_ckans_envelope(client: FlaskClient) -> None:
    body = client.get("/api/3/action/license_list").get_json()
    assert body["success"] is True
    assert {"id", "title", "url", "status", "od_conformance"} <= set(body["result"][0])


def test_an_empty_name_is_made_from_the_title(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    html = _html(client, "/dataset/new")
    assert 'data-slug-from="title"' in html and "slug.js" in html
    response = client.post(
        "/dataset/new",
        data={
            "csrf_token": csrf_from(html),
            "title": "Éruptions solaires: 2024 (brutes)",
            "name": "",
            "owner_org": portal["org"]["id"],
        },
    )
    assert response.status_code == 302
    assert _show("eruptions-solaires-2024-brutes")["title"] == "Éruptions solaires: 2024 (brutes)"


def test_slug_from_title_keeps_what_a_name_allows() -> None:
    assert slug_from_title("  Sunspot counts -- daily!  ") == "sunspot-counts-daily"
    assert slug_from_title("under_score") == "under_score"
    assert slug_from_title("!!!") == ""
    assert len(slug_from_title("a" * 300)) == 100


def test_a_title_that_makes_no_name_asks_for_one(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    html = _html(client, "/dataset/new")
    response = client.post(
        "/dataset/new",
        data={"csrf_token": csrf_from(html), "title": "!!!", "owner_org": portal["org"]["id"]},
    )
    assert response.status_code == 400
    assert 'id="name-error"' in response.get_data(as_text=True)


def test_delete_asks_for_confirmation_then_deletes(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    read = _html(client, "/dataset/sunspots")
    assert 'href="/dataset/delete/sunspots"' in read
    html = _html(client, "/dataset/delete/sunspots")
    assert "Delete Sunspot counts?" in html
    assert _show("sunspots")["state"] == "active"  # GET deletes nothing
    with recording(signals.action_succeeded) as calls:
        response = client.post("/dataset/delete/sunspots", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dataset/"
    assert "package_delete" in [sender for sender, _kw in calls["action_succeeded"]]
    assert _show("sunspots")["state"] == "deleted"


def test_delete_without_csrf_token_deletes_nothing(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    response = client.post("/dataset/delete/sunspots", data={})
    assert response.status_code == 400
    assert _show("sunspots")["state"] == "active"


def test_delete_is_refused_to_those_not_allowed(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "outsider")
    assert 'href="/dataset/delete/sunspots"' not in _html(client, "/dataset/sunspots")
    _html(client, "/dataset/delete/sunspots", status=403)
    anonymous = client.application.test_client()
    assert anonymous.get("/dataset/delete/sunspots").status_code == 403


def _solar_group_with_the_editor() -> None:
    """A group "Solar physics" (``solar``) that ``editor`` is a member of."""
    call("group_create", {"name": "solar", "title": "Solar physics"})
    call(
        "member_create",
        {"id": "solar", "object": "editor", "object_type": "user", "capacity": "member"},
    )


def test_a_group_member_adds_the_dataset_to_their_group(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    _solar_group_with_the_editor()
    call("group_create", {"name": "closed", "title": "Closed group"})
    model.Session.remove()
    log_in(client, "editor")
    html = _html(client, "/dataset/sunspots")
    form = html[html.index('class="edit add-to-group"') :]
    form = form[: form.index("</form>")]
    assert "Solar physics" in form
    assert "Closed group" not in form  # not a member there
    assert "Astronomy" not in form  # already in it
    solar = _show("sunspots")  # for the ids
    group_id = logic.get_action("group_show")({"ignore_auth": True}, {"id": "solar"})["id"]
    closed_id = logic.get_action("group_show")({"ignore_auth": True}, {"id": "closed"})["id"]
    model.Session.remove()
    refused = client.post(
        "/dataset/groups/sunspots", data={"csrf_token": csrf_from(html), "group_added": closed_id}
    )
    assert refused.status_code == 400
    assert "you may not add it to that one" in refused.get_data(as_text=True)
    with recording(signals.action_succeeded) as calls:
        response = client.post(
            "/dataset/groups/sunspots",
            data={"csrf_token": csrf_from(html), "group_added": group_id},
        )
    assert response.status_code == 302
    assert "member_create" in [sender for sender, _kw in calls["action_succeeded"]]
    names = sorted(group["name"] for group in _show("sunspots")["groups"])
    assert names == ["astronomy", "solar"]
    assert solar["id"]


def test_an_outsider_sees_no_group_form(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    log_in(client, "outsider")
    html = _html(client, "/dataset/sunspots")
    assert "add-to-group" not in html
    assert "no other group" in _html(client, "/dataset/groups/sunspots")


def test_a_group_member_takes_the_dataset_out_of_their_group_only(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    _solar_group_with_the_editor()
    call(
        "member_create",
        {"id": "solar", "object": "sunspots", "object_type": "package", "capacity": "public"},
    )
    solar_id = logic.get_action("group_show")({"ignore_auth": True}, {"id": "solar"})["id"]
    astronomy_id = logic.get_action("group_show")({"ignore_auth": True}, {"id": "astronomy"})["id"]
    model.Session.remove()
    log_in(client, "editor")
    assert 'class="manage-groups"' in _html(client, "/dataset/sunspots")
    html = _html(client, "/dataset/groups/sunspots")
    assert html.count('class="inline remove-from-group"') == 1
    assert f'name="group_removed" value="{solar_id}"' in html
    assert 'aria-label="Remove from Solar physics"' in html

    no_token = client.post("/dataset/groups/sunspots", data={"group_removed": solar_id})
    assert no_token.status_code == 400
    refused = client.post(
        "/dataset/groups/sunspots",
        data={"csrf_token": csrf_from(html), "group_removed": astronomy_id},
    )
    assert refused.status_code == 400
    assert "you may not remove it from that one" in refused.get_data(as_text=True)
    assert sorted(g["name"] for g in _show("sunspots")["groups"]) == ["astronomy", "solar"]

    with recording(signals.action_succeeded) as calls:
        response = client.post(
            "/dataset/groups/sunspots",
            data={"csrf_token": csrf_from(html), "group_removed": solar_id},
        )
    assert response.status_code == 302
    assert "member_delete" in [sender for sender, _kw in calls["action_succeeded"]]
    assert [g["name"] for g in _show("sunspots")["groups"]] == ["astronomy"]
    assert "no longer in the group Solar physics" in _html(client, "/dataset/groups/sunspots")


def test_an_outsider_gets_no_remove_button(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    log_in(client, "outsider")
    assert "remove-from-group" not in _html(client, "/dataset/groups/sunspots")
    anonymous = client.application.test_client()
    page = anonymous.get("/dataset/groups/sunspots").get_data(as_text=True)
    assert "remove-from-group" not in page and "manage-groups" not in page
