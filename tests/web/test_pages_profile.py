"""Profile editing, the dashboard link in the menu and landing on the
dashboard after login."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import model
from heliograph.logic import users
from tests.web.accounts_helpers import PASSWORD, log_in
from tests.web.pages_helpers import csrf_from, make_portal

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def portal(app: Flask) -> dict[str, t.Any]:
    return make_portal()


def _user(name: str) -> model.User:
    model.Session.remove()
    return model.Session.query(model.User).filter_by(name=name).one()


def _edit(client: FlaskClient, name: str, **data: str) -> t.Any:
    page = client.get(f"/user/edit/{name}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    values = {"fullname": "", "email": f"{name}@example.org", "about": ""}
    values.update(data)
    return client.post(f"/user/edit/{name}", data={**values, "csrf_token": csrf_from(html)})


def test_login_lands_on_the_dashboard_linked_from_the_menu(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    response = log_in(client, "editor")
    assert response.headers["Location"] == "/dashboard/datasets"
    page = client.get("/dashboard/datasets").get_data(as_text=True)
    assert '<a href="/dashboard/datasets">Dashboard</a>' in page
    assert 'href="/organization/sun-watchers"' in page and "editor" in page
    assert 'href="/dataset/new"' in page
    assert 'href="/user/edit/editor"' in page


def test_the_dashboard_sends_anonymous_to_log_in(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    response = client.get("/dashboard/datasets")
    assert response.headers["Location"] == "/user/login?next=/dashboard/datasets"
    assert "Dashboard" not in client.get("/").get_data(as_text=True)


def test_a_user_edits_name_and_about_without_a_password(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    assert 'href="/user/edit/editor"' in client.get("/user/editor").get_data(as_text=True)
    response = _edit(client, "editor", fullname="Ed Itor", about="I edit")
    assert response.status_code == 302
    user = _user("editor")
    assert (user.fullname, user.about) == ("Ed Itor", "I edit")


def test_a_new_email_needs_the_current_password(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    refused = _edit(client, "editor", email="new@example.org")
    assert refused.status_code == 400
    assert 'id="old_password-error">Enter your current password' in refused.get_data(as_text=True)
    wrong = _edit(client, "editor", email="new@example.org", old_password="wrong-password")
    assert wrong.status_code == 400
    assert _user("editor").email == "editor@example.org"
    done = _edit(client, "editor", email="new@example.org", old_password=PASSWORD)
    assert done.status_code == 302
    assert _user("editor").email == "new@example.org"
    taken = _edit(client, "editor", email="outsider@example.org", old_password=PASSWORD)
    assert taken.status_code == 400
    assert 'id="email-error"' in taken.get_data(as_text=True)


def test_changing_the_password_keeps_you_logged_in_here(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    mismatch = _edit(client, "editor", password1="a-new-pass-1", password2="other-pass-2")
    assert mismatch.status_code == 400
    assert 'id="password2-error"' in mismatch.get_data(as_text=True)
    short = _edit(client, "editor", password1="short", password2="short", old_password=PASSWORD)
    assert short.status_code == 400
    assert 'id="password1-error"' in short.get_data(as_text=True)
    done = _edit(
        client, "editor", password1="a-new-pass-1", password2="a-new-pass-1", old_password=PASSWORD
    )
    assert done.status_code == 302
    assert users.check_password(_user("editor"), "a-new-pass-1")
    assert client.get("/dashboard/datasets").status_code == 200  # still logged in


def test_only_you_or_a_sysadmin_edit_a_profile(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "outsider")
    assert client.get("/user/edit/editor").status_code == 403
    assert 'href="/user/edit/editor"' not in client.get("/user/editor").get_data(as_text=True)
    token = csrf_from(client.get("/user/edit/outsider").get_data(as_text=True))
    refused = client.post(
        "/user/edit/editor",
        data={"fullname": "Hacked", "email": "editor@example.org", "csrf_token": token},
    )
    assert refused.status_code == 403
    assert _user("editor").fullname != "Hacked"
    assert client.post("/user/edit/outsider", data={"fullname": "x"}).status_code == 400  # no CSRF
    log_in(client, "boss")
    done = _edit(client, "editor", fullname="Set by boss")
    assert done.status_code == 302
    assert _user("editor").fullname == "Set by boss"
