"""Organization and group pages: create, edit, delete and members, through
the actions with CKAN's permissions; CSRF on every form; /dataset/new for a
user without an organization; login with next= and back."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import logic, model
from heliograph.lib import signals
from tests.web.accounts_helpers import log_in, make_user, recording
from tests.web.pages_helpers import csrf_from, make_portal

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def portal(app: Flask) -> dict[str, t.Any]:
    return make_portal()


def _post(client: FlaskClient, page: str, data: dict[str, t.Any], to: str | None = None) -> t.Any:
    shown = client.get(page)
    assert shown.status_code == 200, (page, shown.status_code)
    token = csrf_from(shown.get_data(as_text=True))
    return client.post(to or page, data={**data, "csrf_token": token})


def _org(ref: str) -> dict[str, t.Any]:
    result: dict[str, t.Any] = logic.get_action("organization_show")(
        {"ignore_auth": True}, {"id": ref, "include_users": True}
    )
    model.Session.remove()
    return result


def _roles(ref: str) -> dict[str, str]:
    return {user["name"]: user["capacity"] for user in _org(ref)["users"]}


def test_a_user_creates_an_organization_and_becomes_its_admin(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "outsider")
    listing = client.get("/organization/").get_data(as_text=True)
    assert 'href="/organization/new"' in listing
    with recording(signals.action_succeeded) as calls:
        response = _post(
            client,
            "/organization/new",
            {
                "title": "Moon Watchers & Co",
                "name": "",
                "description": "We watch the moon",
                "image_url": "http://example.org/moon.png",
            },
        )
    assert response.status_code == 302
    assert response.headers["Location"] == "/organization/moon-watchers-co"
    assert "organization_create" in [sender for sender, _kw in calls["action_succeeded"]]
    org = _org("moon-watchers-co")
    assert (org["title"], org["description"], org["image_url"]) == (
        "Moon Watchers & Co",
        "We watch the moon",
        "http://example.org/moon.png",
    )
    assert _roles("moon-watchers-co") == {"outsider": "admin"}
    page = client.get("/organization/moon-watchers-co").get_data(as_text=True)
    assert 'src="http://example.org/moon.png"' in page
    assert 'href="/organization/edit/moon-watchers-co"' in page
    assert 'href="/organization/members/moon-watchers-co"' in page


def test_errors_show_beside_their_field_and_nothing_is_made(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "outsider")
    response = _post(client, "/organization/new", {"title": "Sun", "name": "sun-watchers"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="name-error">Group name already exists in database' in html
    response = _post(client, "/group/new", {"title": "", "name": ""})
    assert response.status_code == 400
    assert 'id="name-error">Missing value' in response.get_data(as_text=True)


def test_who_may_create_organizations_follows_the_setting(
    make_web_app: t.Any, core_actions: None
) -> None:
    app = make_web_app(**{"heliograph.auth.user_create_organizations": "false"})
    make_portal()
    client = app.test_client()
    log_in(client, "outsider")
    assert 'href="/organization/new"' not in client.get("/organization/").get_data(as_text=True)
    refused = client.get("/organization/new")
    assert refused.status_code == 403
    assert "not authorized to create organizations" in refused.get_data(as_text=True)
    assert client.get("/group/new").status_code == 200  # groups follow their own setting
    log_in(client, "boss")
    assert client.get("/organization/new").status_code == 200


def test_anonymous_is_sent_to_log_in_and_comes_back(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    for path in ("/organization/new", "/dataset/new", "/organization/members/sun-watchers"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/user/login?next={path}"
    login_page = client.get("/user/login?next=%2Fdataset%2Fnew")
    token = csrf_from(login_page.get_data(as_text=True))
    back = client.post(
        "/user/login?next=%2Fdataset%2Fnew",
        data={"login": "editor", "password": "correct-horse-9", "csrf_token": token},
    )
    assert back.headers["Location"] == "/dataset/new"
    assert client.get("/dataset/new").status_code == 200


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_next_never_leaves_the_site(
    client: FlaskClient, portal: dict[str, t.Any], target: str
) -> None:
    login_page = client.get("/user/login")
    token = csrf_from(login_page.get_data(as_text=True))
    response = client.post(
        "/user/login",
        query_string={"next": target},
        data={"login": "editor", "password": "correct-horse-9", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard/datasets"


def test_dataset_new_without_an_organization_says_why_and_offers_the_way(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "outsider")
    response = client.get("/dataset/new")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "You do not belong to any organization yet" in html
    assert 'href="/organization/new"' in html


def test_dataset_new_names_whom_to_ask_when_users_cannot_create_organizations(
    make_web_app: t.Any, core_actions: None
) -> None:
    app = make_web_app(**{"heliograph.auth.user_create_organizations": "false"})
    portal = make_portal()
    make_user("lurker")
    from tests.web.pages_helpers import call

    call(
        "member_create",
        {
            "id": portal["org"]["id"],
            "object": "lurker",
            "object_type": "user",
            "capacity": "member",
        },
    )
    model.Session.remove()
    client = app.test_client()
    log_in(client, "lurker")
    html = client.get("/dataset/new").get_data(as_text=True)
    assert "You are only a member of" in html
    assert 'href="/organization/new"' not in html
    assert 'href="/user/boss"' in html  # the sysadmin, and the organization's admin
    assert "Sun Watchers" in html


def test_an_admin_edits_the_organization_through_organization_patch(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "boss")
    page = client.get("/organization/edit/sun-watchers").get_data(as_text=True)
    assert 'value="Sun Watchers"' in page
    response = _post(
        client,
        "/organization/edit/sun-watchers",
        {
            "title": "The Sun Watchers",
            "name": "sun-watchers",
            "description": "Daily",
            "image_url": "",
        },
    )
    assert response.status_code == 302
    org = _org("sun-watchers")
    assert (org["title"], org["description"]) == ("The Sun Watchers", "Daily")


@pytest.mark.parametrize("who", ["editor", "outsider"])
def test_non_admins_cannot_edit_delete_or_manage_members(
    client: FlaskClient, portal: dict[str, t.Any], who: str
) -> None:
    log_in(client, who)
    page = client.get("/organization/sun-watchers").get_data(as_text=True)
    assert "/organization/edit/" not in page and "/organization/members/" not in page
    for path in (
        "/organization/edit/sun-watchers",
        "/organization/delete/sun-watchers",
        "/organization/members/sun-watchers",
    ):
        assert client.get(path).status_code == 403, path
    token = csrf_from(client.get("/organization/").get_data(as_text=True) + _token_holder(client))
    refused = client.post(
        "/organization/member_new/sun-watchers",
        data={"username": who, "role": "admin", "csrf_token": token},
    )
    assert refused.status_code == 403
    assert _roles("sun-watchers").get(who) != "admin"


def _token_holder(client: FlaskClient) -> str:
    """A page with a CSRF token for a logged-in user (the logout form)."""
    return client.get("/dataset/").get_data(as_text=True)


def test_the_members_page_adds_changes_and_removes(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "boss")
    page = client.get("/organization/members/sun-watchers").get_data(as_text=True)
    assert "editor" in page and 'name="username"' in page
    added = _post(
        client,
        "/organization/members/sun-watchers",
        {"username": "outsider", "role": "member"},
        to="/organization/member_new/sun-watchers",
    )
    assert added.status_code == 302
    assert _roles("sun-watchers")["outsider"] == "member"
    changed = _post(
        client,
        "/organization/members/sun-watchers",
        {"username": "outsider", "role": "editor"},
        to="/organization/member_new/sun-watchers",
    )
    assert changed.status_code == 302
    assert _roles("sun-watchers")["outsider"] == "editor"
    outsider_id = _org("sun-watchers")["users"]
    user_id = next(u["id"] for u in outsider_id if u["name"] == "outsider")
    removed = _post(
        client,
        "/organization/members/sun-watchers",
        {"user_id": user_id},
        to="/organization/member_delete/sun-watchers",
    )
    assert removed.status_code == 302
    assert "outsider" not in _roles("sun-watchers")


def test_adding_an_unknown_user_is_a_clear_error(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "boss")
    response = _post(
        client,
        "/organization/members/sun-watchers",
        {"username": "nobody", "role": "member"},
        to="/organization/member_new/sun-watchers",
    )
    assert response.status_code == 400
    assert "There is no user called &#39;nobody&#39;." in response.get_data(as_text=True)


def test_forms_refuse_a_post_without_csrf(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    log_in(client, "boss")
    for path, data in [
        ("/organization/new", {"title": "X", "name": "xx"}),
        ("/organization/edit/sun-watchers", {"title": "X", "name": "sun-watchers"}),
        ("/organization/delete/sun-watchers", {}),
        ("/organization/member_new/sun-watchers", {"username": "outsider", "role": "admin"}),
        ("/organization/member_delete/sun-watchers", {"user_id": "editor"}),
        ("/group/delete/astronomy", {}),
    ]:
        assert client.post(path, data=data).status_code == 400, path
    assert _org("sun-watchers")["title"] == "Sun Watchers"
    assert "outsider" not in _roles("sun-watchers") and "editor" in _roles("sun-watchers")


def test_deleting_asks_first_and_an_organization_with_datasets_stays(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "boss")
    confirm = client.get("/organization/delete/sun-watchers")
    assert "Yes, delete it" in confirm.get_data(as_text=True)
    refused = _post(client, "/organization/delete/sun-watchers", {})
    assert refused.status_code == 409
    assert "still has datasets" in refused.get_data(as_text=True)
    assert _org("sun-watchers")["state"] == "active"
    deleted = _post(client, "/group/delete/astronomy", {})
    assert deleted.status_code == 302
    assert 'href="/group/astronomy"' not in client.get("/group/").get_data(as_text=True)
    group = logic.get_action("group_show")({"ignore_auth": True}, {"id": "astronomy"})
    assert group["state"] == "deleted"


def test_groups_have_the_same_pages(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    log_in(client, "outsider")
    response = _post(client, "/group/new", {"title": "Night sky", "description": "Stars"})
    assert response.headers["Location"] == "/group/night-sky"
    members = client.get("/group/members/night-sky").get_data(as_text=True)
    assert '<option value="editor"' not in members  # groups have admins and members
    added = _post(
        client,
        "/group/members/night-sky",
        {"username": "editor", "role": "member"},
        to="/group/member_new/night-sky",
    )
    assert added.status_code == 302
    group = logic.get_action("group_show")({"ignore_auth": True}, {"id": "night-sky"})
    assert {u["name"]: u["capacity"] for u in group["users"]} == {
        "outsider": "admin",
        "editor": "member",
    }
