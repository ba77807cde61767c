"""Failed logins are limited per login and per client address (Flask-Limiter's
storage: this process, or Redis when configured), answered 429 with
Retry-After without checking the password; Argon2 work runs in a bounded
number of slots, and a login that cannot get one soon is answered 503. A
wrong current password (changing the password or e-mail) counts as a failed
login of that user."""

from __future__ import annotations

import collections.abc as c
import threading
import typing as t
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph.config import ConfigError
from heliograph.lib import signals
from heliograph.logic import users
from heliograph.web.views import user as user_views
from tests.helpers import require_service
from tests.web.accounts_helpers import PASSWORD, csrf_token, log_in, make_user, recording

WRONG = "wrong-horse-9"


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> c.Iterator[dict[str, int]]:
    """Argon2 verifications: how many ran, and the most at once."""
    real = users._hasher
    seen = {"count": 0, "running": 0, "most": 0}
    lock = threading.Lock()

    class Counting:
        def __getattr__(self, name: str) -> t.Any:
            return getattr(real, name)

        def verify(self, hash: str, password: str) -> bool:
            with lock:
                seen["count"] += 1
                seen["running"] += 1
                seen["most"] = max(seen["most"], seen["running"])
            try:
                return real.verify(hash, password)
            finally:
                with lock:
                    seen["running"] -= 1

    monkeypatch.setattr(users, "_hasher", Counting())
    yield seen


def limited_app(make_web_app: t.Callable[..., Flask], **keys: str) -> Flask:
    settings = {"heliograph.login_limit.account": "", "heliograph.login_limit.address": ""}
    settings.update(keys)
    return make_web_app(**settings)


def retry_after(response: t.Any) -> int:
    return int(response.headers["Retry-After"])


def test_failed_logins_for_one_login_are_limited_with_retry_after(
    make_web_app: t.Callable[..., Flask], verifications: dict[str, int]
) -> None:
    app = limited_app(make_web_app, **{"heliograph.login_limit.account": "3 per minute"})
    client = app.test_client()
    make_user("alice")
    make_user("bob")
    for _ in range(3):
        assert log_in(client, "alice", WRONG).status_code == 401
    assert verifications["count"] == 3
    with recording(signals.failed_login, signals.user_logged_in) as calls:
        # Even the right password is not checked once the limit is reached,
        # and another spelling of the same login counts as the same.
        for login in ("alice", "ALICE "):
            refused = log_in(client, login, PASSWORD)
            assert refused.status_code == 429
            assert 1 <= retry_after(refused) <= 60
            assert "Too many failed logins" in refused.get_data(as_text=True)
    assert verifications["count"] == 3
    assert all(not sent for sent in calls.values())
    # Other logins from the same address are not held back.
    assert log_in(client, "bob").status_code == 302


def test_failed_logins_from_one_address_are_limited_whatever_the_login(
    make_web_app: t.Callable[..., Flask],
) -> None:
    app = limited_app(make_web_app, **{"heliograph.login_limit.address": "3 per minute"})
    make_user("alice")
    attacker = app.test_client()
    for login in ("alice", "bob", "carol"):
        assert log_in(attacker, login, WRONG).status_code == 401
    refused = log_in(attacker, "dave", WRONG)
    assert refused.status_code == 429 and 1 <= retry_after(refused) <= 60
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert log_in(elsewhere, "alice").status_code == 302


def test_successful_logins_are_not_counted(make_web_app: t.Callable[..., Flask]) -> None:
    app = limited_app(
        make_web_app,
        **{
            "heliograph.login_limit.account": "2 per minute",
            "heliograph.login_limit.address": "2/minute",
        },
    )
    client = app.test_client()
    make_user("alice")
    for _ in range(4):
        assert log_in(client, "alice").status_code == 302


def test_parallel_guesses_cannot_all_pass_the_limit(
    make_web_app: t.Callable[..., Flask], verifications: dict[str, int]
) -> None:
    app = limited_app(
        make_web_app,
        **{"heliograph.login_limit.account": "3 per minute", "heliograph.password_checks": "1"},
    )
    make_user("alice")
    clients = [app.test_client() for _ in range(8)]
    forms = [{"login": "alice", "password": WRONG, "csrf_token": csrf_token(c)} for c in clients]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def guess(client: FlaskClient, form: dict[str, str]) -> None:
        start.wait()
        statuses.append(client.post("/user/login", data=form).status_code)

    threads = [
        threading.Thread(target=guess, args=pair) for pair in zip(clients, forms, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [401] * 3 + [429] * 5
    assert verifications["count"] == 3
    assert verifications["most"] == 1


def test_a_login_that_cannot_get_an_argon2_slot_soon_is_answered_busy(
    make_web_app: t.Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_web_app(**{"heliograph.password_checks": "1"}).test_client()
    make_user("alice")
    monkeypatch.setattr(user_views, "LOGIN_WAIT_SECONDS", 0.05)
    holding, release = threading.Event(), threading.Event()

    def hold_the_slot() -> None:
        with users.password_check_slot():
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_slot)
    holder.start()
    try:
        assert holding.wait(10)
        busy = log_in(client, "alice")
        assert busy.status_code == 503
        assert busy.headers["Retry-After"] == "1"
        assert "busy" in busy.get_data(as_text=True)
    finally:
        release.set()
        holder.join(10)
    assert log_in(client, "alice").status_code == 302


def test_redis_storage_shares_the_counts_between_processes(
    make_web_app: t.Callable[..., Flask],
) -> None:
    require_service("Redis", "127.0.0.1", 6379)
    redis = {
        "heliograph.ratelimit.storage_uri": "redis://127.0.0.1:6379/0",
        "heliograph.login_limit.account": "2 per minute",
    }
    first = limited_app(make_web_app, **redis).test_client()
    second = limited_app(make_web_app, **redis).test_client()
    login = f"nobody-{uuid.uuid4().hex}"  # counts expire with their window; nothing to clean
    assert log_in(first, login, WRONG).status_code == 401
    assert log_in(second, login, WRONG).status_code == 401
    assert log_in(first, login, WRONG).status_code == 429
    assert log_in(second, login, WRONG).status_code == 429


def test_when_the_storage_fails_logins_are_still_limited(
    make_web_app: t.Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = limited_app(
        make_web_app,
        **{
            "heliograph.ratelimit.storage_uri": "redis://127.0.0.1:1/0",
            "heliograph.login_limit.account": "2 per minute",
        },
    )
    client = app.test_client()
    for _ in range(2):
        assert log_in(client, "alice", WRONG).status_code == 401
    assert log_in(client, "alice", WRONG).status_code == 429
    assert any("rate limit storage failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("heliograph.login_limit.account", "lots"),
        ("heliograph.login_limit.address", "5 per fortnight"),
        ("heliograph.ratelimit.storage_uri", "mysql://x"),
    ],
)
def test_a_bad_limit_setting_names_its_key(
    make_web_app: t.Callable[..., Flask], key: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        make_web_app(**{key: value})


def test_by_default_five_failures_a_minute_are_allowed_per_login(
    app: Flask, client: FlaskClient
) -> None:
    make_user("alice")
    statuses = [log_in(client, "alice", WRONG).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]


def test_wrong_current_passwords_over_the_api_count_as_failed_logins_of_that_user(
    make_web_app: t.Callable[..., Flask], verifications: dict[str, int]
) -> None:
    """Who holds a user's API token cannot guess the user's password through
    user_update faster than at the login form: the same limit, the same count."""
    app = limited_app(make_web_app, **{"heliograph.login_limit.account": "3 per minute"})
    alice = make_user("alice", with_apitoken=True)
    make_user("bob")
    client = app.test_client()

    def change(old: str) -> t.Any:
        return client.post(
            "/api/3/action/user_update",
            json={"id": "alice", "password": "a-new-password-1", "old_password": old},
            headers={"Authorization": alice["token"]},
        )

    for _ in range(2):
        wrong = change(WRONG)
        assert wrong.status_code == 409
        assert wrong.get_json()["error"]["old_password"] == ["Old password is incorrect"]
    assert log_in(client, "alice", WRONG).status_code == 401  # the third failure
    checked = verifications["count"]
    refused = change(PASSWORD)  # the right one, past the limit: not even checked
    assert refused.status_code == 409
    (message,) = refused.get_json()["error"]["old_password"]
    assert message.startswith("Too many wrong passwords: try again in ")
    assert verifications["count"] == checked
    assert log_in(client, "alice", PASSWORD).status_code == 429  # the form agrees
    assert log_in(client, "bob").status_code == 302  # nobody else is held back


def test_wrong_current_passwords_on_the_profile_form_meet_the_login_limit(
    make_web_app: t.Callable[..., Flask],
) -> None:
    app = limited_app(make_web_app, **{"heliograph.login_limit.account": "2 per minute"})
    make_user("alice")
    client = app.test_client()
    assert log_in(client, "alice").status_code == 302

    def edit(old: str) -> t.Any:
        token = csrf_token(client, "/user/edit/alice")
        data = {"fullname": "", "email": "new@example.org", "about": "", "old_password": old}
        return client.post("/user/edit/alice", data={**data, "csrf_token": token})

    for _ in range(2):
        wrong = edit(WRONG)
        assert wrong.status_code == 400
        assert "Your current password is not right." in wrong.get_data(as_text=True)
    refused = edit(PASSWORD)
    assert refused.status_code == 400
    assert "Too many wrong passwords: try again in " in refused.get_data(as_text=True)
    assert edit(PASSWORD).status_code == 400  # still held back, nothing changed
