"""Accounts over HTTP: registration, login and logout, CSRF, API tokens, and
the signals they send (user_created, user_logged_in, user_logged_out,
failed_login) - each once, with the documented sender and arguments, and
none when the attempt fails."""

from __future__ import annotations

import re
import typing as t

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from heliograph import model
from heliograph.config import config as heliograph_config
from heliograph.lib import signals
from heliograph.logic import users
from tests.web.accounts_helpers import PASSWORD, csrf_token, log_in, make_user, recording

ACCOUNT_SIGNALS = (
    signals.user_created,
    signals.user_logged_in,
    signals.user_logged_out,
    signals.failed_login,
)


def user_row(name: str) -> model.User:
    model.Session.remove()
    user = model.Session.query(model.User).filter_by(name=name).one()
    return t.cast(model.User, user)


# -- user_created -----------------------------------------------------------------------


def test_user_create_action_sends_user_created_once_after_the_user_is_stored(app: Flask) -> None:
    seen: list[bool] = []

    def stored(sender: str, **kwargs: t.Any) -> None:
        session = model.Session()
        seen.append(session.get(model.User, kwargs["user"].id) is not None)

    with recording(*ACCOUNT_SIGNALS) as calls, signals.user_created.connected_to(stored):
        result = make_user("alice")
    [(sender, kwargs)] = calls["user_created"]
    assert sender == "alice"
    assert isinstance(kwargs["user"], model.User)
    assert kwargs["user"].id == result["id"]
    assert seen == [True]


def test_registration_page_creates_a_user_logs_in_and_sends_user_created_once(
    client: FlaskClient, app: Flask
) -> None:
    token = csrf_token(client, "/user/register")
    form = {
        "name": "bob",
        "fullname": "Bob B",
        "email": "bob@example.org",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "csrf_token": token,
    }
    with recording(*ACCOUNT_SIGNALS) as calls:
        response = client.post("/user/register", data=form)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard/datasets")  # logged in: start here
    [(sender, kwargs)] = calls["user_created"]
    assert sender == "bob" and kwargs["user"].name == "bob"
    [(sender, kwargs)] = calls["user_logged_in"]
    assert sender is app and kwargs["user"].name == "bob"
    assert user_row("bob").fullname == "Bob B"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "alice"}, "name"),  # taken
        ({"password2": "something-else-9"}, "password2"),
        ({"password1": "short", "password2": "short"}, "password1"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_failed_registration_shows_the_error_beside_the_field_and_sends_nothing(
    client: FlaskClient, change: dict[str, str], field: str
) -> None:
    make_user("alice")
    form = {
        "name": "carol",
        "email": "carol@example.org",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "csrf_token": csrf_token(client, "/user/register"),
        **change,
    }
    with recording(*ACCOUNT_SIGNALS) as calls:
        response = client.post("/user/register", data=form)
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert all(not c for c in calls.values())


def test_registration_page_is_closed_when_create_user_via_web_is_off(
    make_web_app: t.Any,
) -> None:
    client = make_web_app(heliograph__auth__create_user_via_web="false").test_client()
    assert client.get("/user/register").status_code == 403


def test_cli_user_add_sends_user_created_once_and_not_for_a_taken_name(
    app: Flask, tmp_path: t.Any
) -> None:
    from heliograph.cli import main

    url = heliograph_config["sqlalchemy.url"]
    env = {
        "HELIOGRAPH_SQLALCHEMY_URL": url,
        "HELIOGRAPH_INSTANCE_PATH": str(tmp_path),
        "HELIOGRAPH_PLUGINS": "",
        "HELIOGRAPH_CONFIG": "",
    }
    runner = CliRunner()
    args = ["user", "add", "dave", "--email", "dave@example.org"]
    with recording(signals.user_created) as calls:
        result = runner.invoke(main, [*args, "--password", PASSWORD], env=env)
        assert result.exit_code == 0, result.output
        again = runner.invoke(main, args, input=f"{PASSWORD}\n{PASSWORD}\n", env=env)
    assert again.exit_code != 0
    assert "not available" in again.output or "already" in again.output
    [(sender, kwargs)] = calls["user_created"]
    assert sender == "dave" and kwargs["user"].name == "dave"
    assert not user_row("dave").sysadmin

    assert runner.invoke(main, ["sysadmin", "add", "dave"], env=env).exit_code == 0
    assert user_row("dave").sysadmin
    assert runner.invoke(main, ["sysadmin", "remove", "dave"], env=env).exit_code == 0
    assert not user_row("dave").sysadmin
    missing = runner.invoke(main, ["sysadmin", "add", "nobody"], env=env)
    assert missing.exit_code != 0 and "nobody" in missing.output


def test_cli_user_add_prompts_for_the_password(app: Flask, tmp_path: t.Any) -> None:
    from heliograph.cli import main

    env = {
        "HELIOGRAPH_SQLALCHEMY_URL": heliograph_config["sqlalchemy.url"],
        "HELIOGRAPH_INSTANCE_PATH": str(tmp_path),
        "HELIOGRAPH_PLUGINS": "",
        "HELIOGRAPH_CONFIG": "",
    }
    result = CliRunner().invoke(
        main,
        ["user", "add", "erin", "--email", "erin@example.org"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert users.check_password(user_row("erin"), PASSWORD)


# -- login and logout ------------------------------------------------------------------


@pytest.mark.parametrize("login", ["alice", "alice@example.org"])
def test_login_sends_user_logged_in_once_with_the_app_and_the_user(
    app: Flask, client: FlaskClient, login: str
) -> None:
    make_user("alice")
    with recording(*ACCOUNT_SIGNALS) as calls:
        response = log_in(client, login)
    assert response.status_code == 302
    [(sender, kwargs)] = calls["user_logged_in"]
    assert sender is app
    assert isinstance(kwargs["user"], model.User) and kwargs["user"].name == "alice"
    assert calls["failed_login"] == [] and calls["user_logged_out"] == []
    page = client.get("/user/alice").get_data(as_text=True)
    assert "Log out" in page and "API tokens" in page


def test_logout_sends_user_logged_out_once_and_ends_the_session(
    app: Flask, client: FlaskClient
) -> None:
    make_user("alice")
    log_in(client, "alice")
    token = csrf_token(client, "/")
    with recording(*ACCOUNT_SIGNALS) as calls:
        response = client.post("/user/_logout", data={"csrf_token": token})
    assert response.status_code == 302
    [(sender, kwargs)] = calls["user_logged_out"]
    assert sender is app and kwargs["user"].name == "alice"
    assert calls["user_logged_in"] == []
    assert "API tokens" not in client.get("/user/alice").get_data(as_text=True)
    assert "Log in" in client.get("/").get_data(as_text=True)


def test_logout_by_get_is_not_allowed(client: FlaskClient) -> None:
    make_user("alice")
    log_in(client, "alice")
    with recording(signals.user_logged_out) as calls:
        assert client.get("/user/_logout").status_code in (404, 405)
    assert calls["user_logged_out"] == []


@pytest.mark.parametrize(
    ("login", "password"),
    [("alice", "wrong-horse-9"), ("nobody", PASSWORD), ("nobody@example.org", "x" * 12)],
)
def test_failed_login_is_sent_once_with_the_login_tried_and_nobody_logs_in(
    client: FlaskClient, login: str, password: str
) -> None:
    make_user("alice")
    with recording(*ACCOUNT_SIGNALS) as calls:
        response = log_in(client, login, password)
    assert response.status_code == 401
    assert calls["failed_login"] == [(login, {})]
    assert calls["user_logged_in"] == []
    assert "Log out" not in client.get("/").get_data(as_text=True)


def test_unknown_user_and_wrong_password_get_the_same_answer(client: FlaskClient) -> None:
    make_user("alice")
    wrong = log_in(client, "alice", "wrong-horse-9")
    unknown = client.post(
        "/user/login",
        data={"login": "alice", "password": "x", "csrf_token": csrf_token(client)},
    )
    model.Session.query(model.User).filter_by(name="alice").delete()
    model.Session.commit()
    gone = log_in(client, "alice", "wrong-horse-9")
    assert wrong.status_code == unknown.status_code == gone.status_code == 401
    pages = {
        re.sub(r'name="csrf_token" value="[^"]+"', "", r.get_data(as_text=True))
        for r in (wrong, unknown, gone)
    }
    assert len(pages) == 1


def test_deleted_user_cannot_log_in(client: FlaskClient) -> None:
    make_user("alice", state="pending")
    with recording(*ACCOUNT_SIGNALS) as calls:
        assert log_in(client, "alice").status_code == 401
    assert calls["failed_login"] == [("alice", {})]


def test_login_with_an_empty_password_sends_no_failed_login(client: FlaskClient) -> None:
    make_user("alice")
    with recording(*ACCOUNT_SIGNALS) as calls:
        response = log_in(client, "alice", "")
    assert response.status_code == 400
    assert all(not c for c in calls.values())


def test_login_rehashes_a_password_hashed_with_outdated_parameters(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(users, "_hasher", weak)
    make_user("alice")
    old = user_row("alice").password
    assert old is not None and "m=8," in old
    monkeypatch.undo()
    assert users._hasher.check_needs_rehash(old)

    assert log_in(client, "alice").status_code == 302
    new = user_row("alice").password
    assert new is not None and new != old
    assert not users._hasher.check_needs_rehash(new)
    assert "Log out" in client.get("/").get_data(as_text=True)  # the session survives it
    client.post("/user/_logout", data={"csrf_token": csrf_token(client, "/")})
    assert log_in(client, "alice").status_code == 302


def test_login_redirects_only_to_local_pages(client: FlaskClient) -> None:
    make_user("alice")
    for target, expected in [("/dataset/", "/dataset/"), ("//evil.test/x", "/dashboard/datasets")]:
        token = csrf_token(client)
        response = client.post(
            f"/user/login?next={target}",
            data={"login": "alice", "password": PASSWORD, "csrf_token": token},
        )
        assert response.headers["Location"] == expected


# -- CSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/user/login", {"login": "alice", "password": PASSWORD}),
        (
            "/user/register",
            {"name": "zed", "email": "z@example.org", "password1": PASSWORD, "password2": PASSWORD},
        ),
        ("/user/reset", {"user": "alice"}),
        ("/user/_logout", {}),
    ],
)
@pytest.mark.parametrize("token", [None, "forged"])
def test_forms_without_a_valid_csrf_token_are_refused_and_send_nothing(
    client: FlaskClient, path: str, form: dict[str, str], token: str | None
) -> None:
    make_user("alice")
    if token is not None:
        form = {**form, "csrf_token": token}
    everything = (*ACCOUNT_SIGNALS, signals.request_password_reset)
    with recording(*everything) as calls:
        response = client.post(path, data=form)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert all(not c for c in calls.values())
    model.Session.remove()
    assert model.Session.query(model.User).filter_by(name="zed").count() == 0


def test_logout_without_csrf_token_keeps_the_user_logged_in(client: FlaskClient) -> None:
    make_user("alice")
    log_in(client, "alice")
    assert client.post("/user/_logout").status_code == 400
    assert "Log out" in client.get("/").get_data(as_text=True)


def test_the_api_needs_no_csrf_token_and_ignores_the_session_cookie(
    client: FlaskClient,
) -> None:
    alice = make_user("alice", with_apitoken=True)
    log_in(client, "alice")
    # The cookie alone does not make an API caller: no cross-site requests by proxy.
    anonymous = client.post("/api/3/action/api_token_list", json={"user_id": "alice"})
    assert anonymous.status_code == 403
    with_token = client.post(
        "/api/3/action/api_token_list",
        json={"user_id": "alice"},
        headers={"Authorization": alice["token"]},
    )
    assert with_token.status_code == 200
    assert [t_["name"] for t_ in with_token.get_json()["result"]] == ["default"]


# -- API tokens ---------------------------------------------------------------------------


def api(client: FlaskClient, action: str, auth: str | None, **data: t.Any) -> t.Any:
    headers = {"Authorization": auth} if auth else {}
    return client.post(f"/api/3/action/{action}", json=data, headers=headers)


def test_api_tokens_are_listed_per_user_without_their_secret(client: FlaskClient) -> None:
    alice = make_user("alice", with_apitoken=True)
    bob = make_user("bob", with_apitoken=True)
    api(client, "api_token_create", alice["token"], user="alice", name="second")
    listed = api(client, "api_token_list", alice["token"], user_id="alice").get_json()["result"]
    assert [row["name"] for row in listed] == ["default", "second"]
    assert all(alice["token"] not in str(row) for row in listed)
    assert set(listed[0]) == {"id", "name", "user_id", "created_at", "last_access"}
    assert api(client, "api_token_list", bob["token"], user_id="alice").status_code == 403
    assert api(client, "api_token_list", None, user_id="alice").status_code == 403


def test_a_revoked_token_stops_working_at_once(client: FlaskClient) -> None:
    alice = make_user("alice", with_apitoken=True)
    token = alice["token"]
    spare = api(client, "api_token_create", token, user="alice", name="spare")
    spare_token = spare.get_json()["result"]["token"]
    [row, _] = api(client, "api_token_list", token, user_id="alice").get_json()["result"]
    assert api(client, "api_token_revoke", spare_token, jti=row["id"]).status_code == 200
    assert api(client, "api_token_list", token, user_id="alice").status_code == 403
    # Revoking by the secret itself works too.
    assert api(client, "api_token_revoke", spare_token, token=spare_token).status_code == 200
    assert api(client, "api_token_list", spare_token, user_id="alice").status_code == 403


def test_only_the_owner_or_a_sysadmin_revokes_a_token(client: FlaskClient) -> None:
    alice = make_user("alice", with_apitoken=True)
    bob = make_user("bob", with_apitoken=True)
    root = make_user("root", with_apitoken=True, sysadmin=True)
    [row] = api(client, "api_token_list", alice["token"], user_id="alice").get_json()["result"]
    assert api(client, "api_token_revoke", bob["token"], jti=row["id"]).status_code == 403
    assert api(client, "api_token_list", alice["token"], user_id="alice").status_code == 200
    assert api(client, "api_token_revoke", root["token"], jti=row["id"]).status_code == 200
    assert api(client, "api_token_list", alice["token"], user_id="alice").status_code == 403
    assert api(client, "api_token_revoke", root["token"], jti="nope").status_code == 404


def test_user_page_lists_creates_and_revokes_tokens(client: FlaskClient) -> None:
    alice = make_user("alice", with_apitoken=True)
    log_in(client, "alice")
    token = csrf_token(client, "/user/alice")
    created = client.post("/user/alice/api-tokens", data={"name": "laptop", "csrf_token": token})
    assert created.status_code == 200
    page = created.get_data(as_text=True)
    assert "laptop" in page and "default" in page and 'class="new-token"' in page
    assert 'class="new-token"' not in client.get("/user/alice").get_data(as_text=True)
    [first, _] = api(client, "api_token_list", alice["token"], user_id="alice").get_json()["result"]
    revoked = client.post(
        f"/user/alice/api-tokens/{first['id']}/revoke", data={"csrf_token": token}
    )
    assert revoked.status_code == 302
    assert api(client, "api_token_list", alice["token"], user_id="alice").status_code == 403
    page = client.get("/user/alice").get_data(as_text=True)
    assert "laptop" in page and ">default<" not in page


def test_another_users_page_shows_no_tokens(client: FlaskClient) -> None:
    make_user("alice")
    make_user("bob", with_apitoken=True)
    log_in(client, "alice")
    assert "API tokens" not in client.get("/user/bob").get_data(as_text=True)
    token = csrf_token(client, "/")
    assert (
        client.post("/user/bob/api-tokens", data={"name": "x", "csrf_token": token}).status_code
        == 403
    )


def test_a_password_reset_ends_the_sessions_made_with_the_old_password(
    app: Flask, client: FlaskClient
) -> None:
    make_user("alice")
    log_in(client, "alice")
    assert "Log out" in client.get("/").get_data(as_text=True)
    row = user_row("alice")
    users.set_password(row, "a-new-password-1")
    model.Session.commit()
    assert "Log out" not in client.get("/").get_data(as_text=True)


def test_unknown_login_costs_the_same_argon2_verification_as_a_wrong_password(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user("alice")
    verifications: list[str] = []
    real = users._hasher

    class Counting:
        def __getattr__(self, name: str) -> t.Any:
            return getattr(real, name)

        def verify(self, hash: str, password: str) -> bool:
            verifications.append(hash)
            return real.verify(hash, password)

    monkeypatch.setattr(users, "_hasher", Counting())
    for login in ("alice", "nobody", "nobody@example.org"):
        verifications.clear()
        assert log_in(client, login, "wrong-horse-9").status_code == 401
        assert len(verifications) == 1, login


# -- the CSRF token and a new API token in the session cookie --------------------------


def session_contents(app: Flask, client: FlaskClient) -> dict[str, t.Any]:
    """What the signed (not encrypted) session cookie carries, as anyone holding it can read."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return t.cast(dict[str, t.Any], serializer.loads(cookie.value))


def test_logging_in_gives_a_new_csrf_token_and_the_one_from_before_is_refused(
    app: Flask, client: FlaskClient
) -> None:
    make_user("alice")
    before_form = csrf_token(client)
    before = session_contents(app, client)["csrf_token"]
    assert log_in(client, "alice").status_code == 302
    assert "csrf_token" not in session_contents(app, client)
    after_form = csrf_token(client, "/")
    after = session_contents(app, client)["csrf_token"]
    assert after != before
    # A token an attacker saw (or planted) before the login does not act for the user.
    stale = client.post("/user/alice/api-tokens", data={"name": "x", "csrf_token": before_form})
    assert stale.status_code == 400 and "CSRF" in stale.get_data(as_text=True)
    fresh = client.post("/user/alice/api-tokens", data={"name": "x", "csrf_token": after_form})
    assert fresh.status_code == 200


def test_logging_out_gives_a_new_csrf_token(app: Flask, client: FlaskClient) -> None:
    make_user("alice")
    log_in(client, "alice")
    token = csrf_token(client, "/")
    during = session_contents(app, client)["csrf_token"]
    client.post("/user/_logout", data={"csrf_token": token})
    assert session_contents(app, client).get("csrf_token") != during


def test_a_new_api_token_is_shown_once_and_never_put_in_the_session_cookie(
    app: Flask, client: FlaskClient
) -> None:
    make_user("alice")
    log_in(client, "alice")
    token = csrf_token(client, "/user/alice")
    created = client.post("/user/alice/api-tokens", data={"name": "laptop", "csrf_token": token})
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    found = re.search(r'<code class="new-token">([^<]+)</code>', created.get_data(as_text=True))
    assert found
    secret = found.group(1)
    set_cookies = " ".join(created.headers.getlist("Set-Cookie"))
    assert secret not in set_cookies
    assert secret not in str(session_contents(app, client))
    assert secret not in client.get("/user/alice").get_data(as_text=True)
    # It is a working token.
    listed = client.post(
        "/api/3/action/api_token_list", json={"user_id": "alice"}, headers={"Authorization": secret}
    )
    assert listed.status_code == 200
