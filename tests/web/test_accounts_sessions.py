"""Login sessions are checked against the database on every request: logging
out, a new password and "end all login sessions" revoke the session cookie and
the remember-me cookie server-side, so copies made before stop working."""

from __future__ import annotations

import datetime as dt
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import model
from heliograph.lib import signals
from tests.web.accounts_helpers import PASSWORD, csrf_token, log_in, make_user, recording

SESSION = "session"
REMEMBER = "remember_token"


def logged_in(client: FlaskClient) -> bool:
    return "Log out" in client.get("/").get_data(as_text=True)


def copy_of(app: Flask, client: FlaskClient, *names: str) -> FlaskClient:
    """A new client holding only copies of ``client``'s cookies ``names``."""
    other = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, f"no {name} cookie"
        other.set_cookie(name, cookie.value)
    return other


def remember_log_in(client: FlaskClient, login: str = "alice") -> t.Any:
    return client.post(
        "/user/login",
        data={
            "login": login,
            "password": PASSWORD,
            "remember": "1",
            "csrf_token": csrf_token(client),
        },
    )


def log_out(client: FlaskClient) -> t.Any:
    return client.post("/user/_logout", data={"csrf_token": csrf_token(client, "/")})


def session_rows(name: str = "alice") -> list[model.UserSession]:
    model.Session.remove()
    user = model.Session.query(model.User).filter_by(name=name).one()
    return list(model.Session.query(model.UserSession).filter_by(user_id=user.id).all())


def test_a_session_cookie_copied_before_logout_logs_nobody_in_afterwards(
    app: Flask, client: FlaskClient
) -> None:
    make_user("alice")
    assert log_in(client, "alice").status_code == 302
    stolen = copy_of(app, client, SESSION)
    assert logged_in(stolen)
    assert log_out(client).status_code == 302
    assert not logged_in(client)
    assert not logged_in(stolen)
    assert session_rows() == []


def test_a_remember_me_cookie_logs_in_until_logout_revokes_it(
    app: Flask, client: FlaskClient
) -> None:
    make_user("alice")
    assert remember_log_in(client).status_code == 302
    [row] = session_rows()
    assert row.remember
    # A browser restarted: the session cookie is gone, the remember-me cookie logs in.
    restarted = copy_of(app, client, REMEMBER)
    assert logged_in(restarted)
    stolen = copy_of(app, client, REMEMBER)
    log_out(restarted)
    assert not logged_in(stolen)
    assert not logged_in(client)


def test_other_logins_survive_a_logout(app: Flask) -> None:
    make_user("alice")
    laptop, phone = app.test_client(), app.test_client()
    log_in(laptop, "alice")
    log_in(phone, "alice")
    assert len(session_rows()) == 2
    log_out(laptop)
    assert not logged_in(laptop)
    assert logged_in(phone)


def test_a_password_changed_through_user_update_ends_every_session_and_remember_me(
    app: Flask, client: FlaskClient
) -> None:
    alice = make_user("alice", with_apitoken=True)
    remember_log_in(client)
    other = app.test_client()
    log_in(other, "alice")
    remembered = copy_of(app, client, REMEMBER)
    response = client.post(
        "/api/3/action/user_update",
        json={"id": "alice", "password": "a-new-password-1", "old_password": PASSWORD},
        headers={"Authorization": alice["token"]},
    )
    assert response.status_code == 200, response.get_json()
    assert session_rows() == []
    assert not logged_in(client)
    assert not logged_in(other)
    assert not logged_in(remembered)
    assert log_in(client, "alice", "a-new-password-1").status_code == 302
    assert logged_in(client)


def test_a_sysadmin_ends_every_session_of_a_user_with_the_button(
    app: Flask, client: FlaskClient
) -> None:
    make_user("alice")
    make_user("root", sysadmin=True)
    remember_log_in(client)
    remembered = copy_of(app, client, REMEMBER)
    admin = app.test_client()
    log_in(admin, "root")
    page = admin.get("/user/alice").get_data(as_text=True)
    assert "End all login sessions" in page
    response = admin.post(
        "/user/alice/sessions/revoke", data={"csrf_token": csrf_token(admin, "/user/alice")}
    )
    assert response.status_code == 302
    assert "have ended" in admin.get(response.headers["Location"]).get_data(as_text=True)
    assert not logged_in(client)
    assert not logged_in(remembered)
    assert logged_in(admin)


def test_only_the_user_or_a_sysadmin_may_end_their_sessions(
    app: Flask, client: FlaskClient
) -> None:
    alice = make_user("alice", with_apitoken=True)
    bob = make_user("bob", with_apitoken=True)
    log_in(client, "alice")
    log_in(app.test_client(), "alice")

    def revoke(token: str | None, who: str = "alice") -> t.Any:
        headers = {"Authorization": token} if token else {}
        return client.post("/api/3/action/user_sessions_revoke", json={"id": who}, headers=headers)

    assert revoke(bob["token"]).status_code == 403
    assert revoke(None).status_code == 403
    assert logged_in(client)
    assert revoke(bob["token"], "nobody").status_code == 404
    mine = revoke(alice["token"])
    assert mine.status_code == 200
    assert mine.get_json()["result"] == {"ended": 2}
    assert not logged_in(client)
    # The button on your own page is "log out everywhere", this session too.
    bob_client = app.test_client()
    log_in(bob_client, "bob")
    response = bob_client.post(
        "/user/bob/sessions/revoke", data={"csrf_token": csrf_token(bob_client, "/user/bob")}
    )
    assert response.headers["Location"].endswith("/user/login")
    assert not logged_in(bob_client)
    log_in(bob_client, "bob")
    other = bob_client.post(
        "/user/alice/sessions/revoke", data={"csrf_token": csrf_token(bob_client, "/")}
    )
    assert other.status_code == 403


def test_an_expired_session_logs_nobody_in(app: Flask, client: FlaskClient) -> None:
    make_user("alice")
    log_in(client, "alice")
    [row] = session_rows()
    row.expires = model.utcnow() - dt.timedelta(seconds=1)
    model.Session.commit()
    assert not logged_in(client)


def test_a_session_in_use_is_kept_alive(
    make_web_app: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_web_app(heliograph__session_lifetime_days="2").test_client()
    make_user("alice")
    log_in(client, "alice")
    [row] = session_rows()
    assert row.expires - row.created == dt.timedelta(days=2)
    stale = model.utcnow() - dt.timedelta(days=1)
    row.last_seen, row.expires = stale, stale + dt.timedelta(days=2)
    model.Session.commit()
    assert logged_in(client)
    [row] = session_rows()
    assert row.last_seen > stale + dt.timedelta(hours=23)
    assert row.expires > model.utcnow() + dt.timedelta(days=1, hours=23)


def test_a_deleted_user_is_logged_out(app: Flask, client: FlaskClient) -> None:
    make_user("alice")
    log_in(client, "alice")
    from heliograph import logic

    logic.get_action("user_delete")({"ignore_auth": True}, {"id": "alice"})
    assert not logged_in(client)


# -- logging out a caller known by an API token (CKAN's signal test) ----------------


def test_logout_posted_with_an_api_token_sends_user_logged_out_once(
    app: Flask, client: FlaskClient
) -> None:
    alice = make_user("alice", with_apitoken=True)
    with recording(signals.user_logged_out) as calls:
        response = client.post("/user/_logout", headers={"Authorization": alice["token"]})
    assert response.status_code == 302
    [(sender, kwargs)] = calls["user_logged_out"]
    assert sender is app and kwargs["user"].name == "alice"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "stays valid until you revoke it" in page


def test_logout_with_a_token_and_a_cookie_ends_the_cookie_session_and_sends_once(
    app: Flask, client: FlaskClient
) -> None:
    alice = make_user("alice", with_apitoken=True)
    log_in(client, "alice")
    stolen = copy_of(app, client, SESSION)
    with recording(signals.user_logged_out) as calls:
        response = client.post("/user/_logout", headers={"Authorization": alice["token"]})
    assert response.status_code == 302
    assert len(calls["user_logged_out"]) == 1
    assert not logged_in(stolen)


def test_an_unknown_token_does_not_lift_the_csrf_check(client: FlaskClient) -> None:
    make_user("alice")
    log_in(client, "alice")
    with recording(signals.user_logged_out) as calls:
        response = client.post("/user/_logout", headers={"Authorization": "not-a-token"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert calls["user_logged_out"] == []
    assert logged_in(client)
