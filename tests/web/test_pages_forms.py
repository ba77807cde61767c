"""Dataset and resource forms, on both databases: CSRF, the actions they post
through, validation errors beside the field, and the 403 page."""

from __future__ import annotations

import io
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import logic, model
from heliograph.lib import signals
from tests.web.accounts_helpers import log_in, recording
from tests.web.pages_helpers import csrf_from, make_portal

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def portal(app: Flask) -> dict[str, t.Any]:
    return make_portal()


def _show(name: str) -> dict[str, t.Any]:
    result: dict[str, t.Any] = logic.get_action("package_show")({"ignore_auth": True}, {"id": name})
    model.Session.remove()
    return result


def _post(client: FlaskClient, path: str, data: dict[str, t.Any]) -> t.Any:
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    return client.post(path, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def _field_error(html: str, field: str) -> str:
    """The text of the error span beside ``field`` (right after its input)."""
    marker = f'id="{field}-error">'
    assert marker in html, f"no error beside {field}"
    start = html.index(marker) + len(marker)
    return html[start : html.index("</span>", start)]


def test_editor_creates_a_dataset_through_package_create(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    with recording(signals.action_succeeded) as calls:
        response = _post(
            client,
            "/dataset/new",
            {
                "name": "coronal-holes",
                "title": "Coronal holes",
                "notes": "Where the wind comes from",
                "tag_string": "sun, wind",
                "owner_org": portal["org"]["id"],
            },
        )
    assert response.status_code == 302
    assert response.headers["Location"] == "/dataset/coronal-holes/resource/new"
    senders = [sender for sender, _kw in calls["action_succeeded"]]
    assert "package_create" in senders
    created = next(kw for s, kw in calls["action_succeeded"] if s == "package_create")
    assert created["context"]["user"] == "editor"
    shown = _show("coronal-holes")
    assert shown["title"] == "Coronal holes"
    assert sorted(tag["name"] for tag in shown["tags"]) == ["sun", "wind"]
    assert shown["owner_org"] == portal["org"]["id"]


def test_dataset_form_refuses_a_post_without_csrf_token(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    with recording(signals.action_succeeded) as calls:
        response = client.post(
            "/dataset/new", data={"name": "forged", "owner_org": portal["org"]["id"]}
        )
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert calls["action_succeeded"] == []
    with pytest.raises(logic.ObjectNotFound):
        _show("forged")


@pytest.mark.parametrize(
    "path",
    ["/dataset/edit/sunspots", "/dataset/sunspots/resource/new", "RESOURCE_EDIT"],
)
def test_edit_forms_refuse_a_post_without_csrf_token(
    client: FlaskClient, portal: dict[str, t.Any], path: str
) -> None:
    resource_id = portal["public"]["resources"][0]["id"]
    path = path.replace("RESOURCE_EDIT", f"/dataset/sunspots/resource/{resource_id}/edit")
    log_in(client, "editor")
    response = client.post(path, data={"name": "changed", "url": "http://x.test"})
    assert response.status_code == 400
    assert _show("sunspots")["name"] == "sunspots"


def test_validation_errors_appear_beside_the_field(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    response = _post(
        client,
        "/dataset/new",
        {
            "name": "Bad Name!",
            "title": "Kept <title>",
            "author_email": "not-an-email",
            "owner_org": portal["org"]["id"],
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    name_error = _field_error(html, "name")
    assert name_error
    assert html.index('name="name"') < html.index('id="name-error"') < html.index('name="notes"')
    assert _field_error(html, "author_email")
    assert 'value="Kept &lt;title&gt;"' in html  # what was typed is kept, escaped
    assert 'id="title-error"' not in html


def test_taken_name_is_reported_beside_the_name_field(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    response = _post(client, "/dataset/new", {"name": "sunspots", "owner_org": portal["org"]["id"]})
    assert response.status_code == 400
    assert "already in use" in _field_error(response.get_data(as_text=True), "name")


def test_editor_edits_a_dataset_keeping_its_resources(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    page = client.get("/dataset/edit/sunspots")
    html = page.get_data(as_text=True)
    assert 'value="Sunspot counts"' in html
    response = client.post(
        "/dataset/edit/sunspots",
        data={
            "csrf_token": csrf_from(html),
            "name": "sunspots",
            "title": "Sunspot numbers",
            "notes": "Daily numbers",
            "tag_string": "sun",
            "owner_org": portal["org"]["id"],
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/dataset/sunspots"
    shown = _show("sunspots")
    assert shown["title"] == "Sunspot numbers"
    assert [tag["name"] for tag in shown["tags"]] == ["sun"]
    assert len(shown["resources"]) == 1


def test_editor_adds_and_edits_a_resource(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    log_in(client, "editor")
    with recording(signals.action_succeeded) as calls:
        response = _post(
            client,
            "/dataset/sunspots/resource/new",
            {"name": "Yearly", "url": "http://example.org/y.json", "format": "json"},
        )
    assert response.status_code == 302
    assert "resource_create" in [sender for sender, _kw in calls["action_succeeded"]]
    resources = _show("sunspots")["resources"]
    assert [r["name"] for r in resources] == ["Counts CSV", "Yearly"]
    added = resources[1]
    assert added["format"] == "JSON"
    path = f"/dataset/sunspots/resource/{added['id']}/edit"
    with recording(signals.action_succeeded) as calls:
        response = _post(
            client,
            path,
            {"name": "Yearly sums", "url": "http://example.org/y.json", "description": "Sums"},
        )
    assert response.status_code == 302
    assert "resource_update" in [sender for sender, _kw in calls["action_succeeded"]]
    edited = _show("sunspots")["resources"][1]
    assert (edited["name"], edited["description"]) == ("Yearly sums", "Sums")


def test_resource_validation_error_appears_beside_the_field(
    client: FlaskClient, portal: dict[str, t.Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    resource_id = portal["public"]["resources"][0]["id"]
    log_in(client, "editor")
    page = client.get(f"/dataset/sunspots/resource/{resource_id}/edit")
    assert 'value="Counts CSV"' in page.get_data(as_text=True)

    def refuse(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> t.NoReturn:
        raise logic.ValidationError({"url": ["Must be a URL"], "size": ["Bad size"]})

    monkeypatch.setitem(logic.registry.actions(), "resource_update", refuse)
    monkeypatch.delitem(logic.registry._wrapped, "resource_update", raising=False)
    response = client.post(
        f"/dataset/sunspots/resource/{resource_id}/edit",
        data={"csrf_token": csrf_from(page.get_data(as_text=True)), "name": "x", "url": "nope"},
    )
    logic.registry.reset()
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert _field_error(html, "url") == "Must be a URL"
    assert "size: Bad size" in html  # no field of its own: listed above the form


@pytest.mark.parametrize(
    "path",
    ["/dataset/edit/sunspots", "/dataset/sunspots/resource/new", "RESOURCE_EDIT"],
)
def test_forms_are_a_403_page_for_those_not_allowed(
    client: FlaskClient, portal: dict[str, t.Any], path: str
) -> None:
    resource_id = portal["public"]["resources"][0]["id"]
    path = path.replace("RESOURCE_EDIT", f"/dataset/sunspots/resource/{resource_id}/edit")
    anonymous = client.get(path)
    assert anonymous.status_code == 403
    assert "403 Forbidden" in anonymous.get_data(as_text=True)
    assert "/user/login?next=" in anonymous.get_data(as_text=True)
    log_in(client, "outsider")  # member of no organization; unowned datasets are off
    response = client.get(path)
    assert response.status_code == 403
    assert "403 Forbidden" in response.get_data(as_text=True)


def test_the_new_dataset_form_sends_anonymous_to_log_in_and_tells_others_why(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    """(The pages for a user without an organization: test_pages_organizations.)"""
    anonymous = client.get("/dataset/new")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/user/login?next=/dataset/new"
    log_in(client, "outsider")
    response = client.get("/dataset/new")
    assert response.status_code == 403
    assert "You do not belong to any organization yet" in response.get_data(as_text=True)


def test_outsider_cannot_post_an_edit(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    log_in(client, "outsider")
    token = csrf_from(client.get("/user/login").get_data(as_text=True))
    response = client.post(
        "/dataset/edit/sunspots", data={"csrf_token": token, "title": "Hijacked"}
    )
    assert response.status_code == 403
    assert _show("sunspots")["title"] == "Sunspot counts"


def test_private_dataset_form_is_not_shown_to_outsiders(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "outsider")
    assert client.get("/dataset/edit/flares").status_code in (403, 404)


def test_resource_form_uploads_a_file_that_downloads(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    page = client.get("/dataset/sunspots/resource/new")
    html = page.get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html
    response = client.post(
        "/dataset/sunspots/resource/new",
        data={
            "csrf_token": csrf_from(html),
            "name": "Uploaded counts",
            "upload": (io.BytesIO(b"day,count\n1,42\n"), "counts.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    added = _show("sunspots")["resources"][1]
    assert added["url_type"] == "upload"
    dataset_page = client.get("/dataset/sunspots").get_data(as_text=True)
    link = f"/dataset/sunspots/resource/{added['id']}/download"
    assert f'href="{link}"' in dataset_page
    download = client.get(link)
    assert download.status_code == 200
    assert download.data == b"day,count\n1,42\n"


def test_upload_too_large_is_reported_beside_the_upload_field(
    make_web_app: t.Any,
) -> None:
    app = make_web_app(heliograph__max_resource_size_mb="1")
    make_portal()
    client = app.test_client()
    log_in(client, "editor")
    html = client.get("/dataset/sunspots/resource/new").get_data(as_text=True)
    response = client.post(
        "/dataset/sunspots/resource/new",
        data={
            "csrf_token": csrf_from(html),
            "name": "Too big",
            "upload": (io.BytesIO(b"x" * (1024 * 1024 + 1)), "big.bin"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert _field_error(response.get_data(as_text=True), "upload")
    assert len(_show("sunspots")["resources"]) == 1


def test_editing_an_uploaded_resource_keeps_its_file(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    html = client.get("/dataset/sunspots/resource/new").get_data(as_text=True)
    client.post(
        "/dataset/sunspots/resource/new",
        data={"csrf_token": csrf_from(html), "upload": (io.BytesIO(b"a,b\n"), "ab.csv")},
        content_type="multipart/form-data",
    )
    added = _show("sunspots")["resources"][1]
    path = f"/dataset/sunspots/resource/{added['id']}/edit"
    edit_page = client.get(path).get_data(as_text=True)
    response = client.post(
        path,
        data={"csrf_token": csrf_from(edit_page), "name": "Renamed", "url": added["url"]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    edited = _show("sunspots")["resources"][1]
    assert (edited["name"], edited["url_type"]) == ("Renamed", "upload")
    assert client.get(f"/dataset/sunspots/resource/{added['id']}/download").data == b"a,b\n"
