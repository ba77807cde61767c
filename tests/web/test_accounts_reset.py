"""Forgotten password over HTTP, with the reset mail received by a real SMTP
server (aiosmtpd) on a loopback port: request_password_reset and
perform_password_reset sent once each, no account enumeration, a reset key
that works once and expires, and a clear page when the mail server is down."""

from __future__ import annotations

import collections.abc as c
import datetime as dt
import re
import typing as t
import urllib.parse
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import model
from heliograph.lib import signals
from heliograph.logic import users
from tests.web.accounts_helpers import (
    PASSWORD,
    MailBox,
    csrf_token,
    free_port,
    log_in,
    make_user,
    recording,
    run_jobs,
)

NEW_PASSWORD = "battery-staple-42"
RESET_SIGNALS = (signals.request_password_reset, signals.perform_password_reset)


@pytest.fixture
def smtp() -> c.Iterator[tuple[MailBox, int]]:
    from aiosmtpd.controller import Controller

    box = MailBox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def mail_app(make_web_app: t.Any, smtp: tuple[MailBox, int]) -> Flask:
    app: Flask = make_web_app(**{"smtp.server": f"127.0.0.1:{smtp[1]}"})
    return app


@pytest.fixture
def mail_client(mail_app: Flask) -> FlaskClient:
    return mail_app.test_client()


def ask_reset(client: FlaskClient, login: str) -> t.Any:
    """Ask for a reset link; returns once the mail work after the request is done."""
    token = csrf_token(client, "/user/reset")
    response = client.post("/user/reset", data={"user": login, "csrf_token": token})
    run_jobs()
    return response


def reset_link(box: MailBox) -> str:
    body = box.messages[-1].get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"http://portal\.test(/user/reset/\S+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


def set_password(client: FlaskClient, link: str, password: str = NEW_PASSWORD) -> t.Any:
    token = csrf_token(client, "/user/login")
    path, _, query = link.partition("?")
    key = urllib.parse.parse_qs(query)["key"][0]
    return client.post(
        path,
        data={"key": key, "password1": password, "password2": password, "csrf_token": token},
    )


def user_row(name: str) -> model.User:
    model.Session.remove()
    return t.cast(model.User, model.Session.query(model.User).filter_by(name=name).one())


def strip_csrf(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


@pytest.mark.parametrize("login", ["alice", "alice@example.org", "ALICE@example.org"])
def test_reset_request_mails_a_link_then_sends_request_password_reset_once(
    mail_client: FlaskClient, smtp: tuple[MailBox, int], login: str
) -> None:
    box, _port = smtp
    make_user("alice")
    with recording(*RESET_SIGNALS) as calls:
        response = ask_reset(mail_client, login)
    assert response.status_code == 200
    assert box.recipients == [["alice@example.org"]]
    assert box.messages[0]["To"] == "alice@example.org"
    [(sender, kwargs)] = calls["request_password_reset"]
    assert sender == "alice" and isinstance(kwargs["user"], model.User)
    assert kwargs["user"].name == "alice"
    assert calls["perform_password_reset"] == []
    link = reset_link(box)
    assert "key=" in link
    # Only a hash of the key is stored.
    key = urllib.parse.parse_qs(link.partition("?")[2])["key"][0]
    assert key not in (user_row("alice").reset_key_hash or "")


def test_reset_request_answers_the_same_for_unknown_accounts_and_mails_nothing(
    mail_client: FlaskClient, smtp: tuple[MailBox, int]
) -> None:
    box, _port = smtp
    make_user("alice")
    known = ask_reset(mail_client, "alice")
    with recording(*RESET_SIGNALS) as calls:
        unknown = ask_reset(mail_client, "nobody")
        unknown_mail = ask_reset(mail_client, "nobody@example.org")
    assert known.status_code == unknown.status_code == unknown_mail.status_code == 200
    pages = {strip_csrf(r.get_data(as_text=True)) for r in (known, unknown, unknown_mail)}
    assert len(pages) == 1
    assert len(box.messages) == 1
    assert all(not c for c in calls.values())


def test_reset_link_sets_the_password_once_and_sends_perform_password_reset(
    mail_client: FlaskClient, smtp: tuple[MailBox, int]
) -> None:
    box, _port = smtp
    make_user("alice")
    ask_reset(mail_client, "alice")
    link = reset_link(box)
    assert mail_client.get(link).status_code == 200
    with recording(*RESET_SIGNALS) as calls:
        response = set_password(mail_client, link)
    assert response.status_code == 302
    [(sender, kwargs)] = calls["perform_password_reset"]
    assert sender == "alice" and kwargs["user"].name == "alice"
    assert calls["request_password_reset"] == []
    assert users.check_password(user_row("alice"), NEW_PASSWORD)
    assert not users.check_password(user_row("alice"), PASSWORD)

    # Single use: the same link is refused and changes nothing.
    with recording(*RESET_SIGNALS) as calls:
        again = set_password(mail_client, link, "yet-another-77")
        shown = mail_client.get(link)
    assert again.status_code == shown.status_code == 400
    assert "not valid" in again.get_data(as_text=True)
    assert all(not c for c in calls.values())
    assert users.check_password(user_row("alice"), NEW_PASSWORD)
    assert log_in(mail_client, "alice", NEW_PASSWORD).status_code == 302


def test_expired_reset_key_is_refused_and_nothing_changes(
    mail_client: FlaskClient, smtp: tuple[MailBox, int]
) -> None:
    box, _port = smtp
    make_user("alice")
    ask_reset(mail_client, "alice")
    link = reset_link(box)
    row = user_row("alice")
    assert row.reset_key_expires is not None
    assert row.reset_key_expires > model.utcnow() + dt.timedelta(minutes=59)
    row.reset_key_expires = model.utcnow() - dt.timedelta(seconds=1)
    model.Session.commit()
    with recording(*RESET_SIGNALS) as calls:
        response = set_password(mail_client, link)
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)
    assert all(not c for c in calls.values())
    assert users.check_password(user_row("alice"), PASSWORD)


def test_reset_key_lifetime_follows_the_configuration(
    make_web_app: t.Any, smtp: tuple[MailBox, int]
) -> None:
    box, port = smtp
    client = make_web_app(
        **{"smtp.server": f"127.0.0.1:{port}", "heliograph.reset_key_ttl_minutes": "5"}
    ).test_client()
    make_user("alice")
    ask_reset(client, "alice")
    expires = user_row("alice").reset_key_expires
    assert expires is not None
    assert model.utcnow() + dt.timedelta(minutes=4) < expires
    assert expires <= model.utcnow() + dt.timedelta(minutes=5)
    assert "5 minutes" in box.messages[0].get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize("mangle", ["wrong-key", "", "other-user"])
def test_wrong_reset_key_is_refused_and_nothing_changes(
    mail_client: FlaskClient, smtp: tuple[MailBox, int], mangle: str
) -> None:
    box, _port = smtp
    make_user("alice")
    bob = make_user("bob")
    ask_reset(mail_client, "alice")
    link = reset_link(box)
    path, _, query = link.partition("?")
    link = f"/user/reset/{bob['id']}?{query}" if mangle == "other-user" else f"{path}?key={mangle}"
    with recording(*RESET_SIGNALS) as calls:
        assert mail_client.get(link).status_code == 400
        token = csrf_token(mail_client, "/user/login")
        response = mail_client.post(
            link.partition("?")[0],
            data={
                "key": mangle,
                "password1": NEW_PASSWORD,
                "password2": NEW_PASSWORD,
                "csrf_token": token,
            },
        )
    assert response.status_code == 400
    assert all(not c for c in calls.values())
    assert users.check_password(user_row("alice"), PASSWORD)
    assert users.check_password(user_row("bob"), PASSWORD)


def test_a_new_password_that_fails_validation_keeps_the_key(
    mail_client: FlaskClient, smtp: tuple[MailBox, int]
) -> None:
    box, _port = smtp
    make_user("alice")
    ask_reset(mail_client, "alice")
    link = reset_link(box)
    with recording(*RESET_SIGNALS) as calls:
        response = set_password(mail_client, link, "short")
    assert response.status_code == 400
    assert 'id="password1-error"' in response.get_data(as_text=True)
    assert all(not c for c in calls.values())
    assert set_password(mail_client, link).status_code == 302


def test_mail_server_down_answers_as_ever_logs_a_warning_and_sends_no_signal(
    make_web_app: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_web_app(**{"smtp.server": f"127.0.0.1:{free_port()}"}).test_client()
    make_user("alice")
    with recording(*RESET_SIGNALS) as calls:
        known = ask_reset(client, "alice")
        unknown = ask_reset(client, "nobody")
    # No 503 that only real accounts would get: the mail is sent after the request.
    assert known.status_code == unknown.status_code == 200
    assert strip_csrf(known.get_data(as_text=True)) == strip_csrf(unknown.get_data(as_text=True))
    assert all(not c for c in calls.values())
    assert user_row("alice").reset_key_hash is None
    [warning] = [r for r in caplog.records if "reset link" in r.getMessage()]
    assert warning.levelname == "WARNING" and "'alice'" in warning.getMessage()


def test_without_smtp_server_the_mail_is_written_to_the_mail_folder(
    make_web_app: t.Any, tmp_path: Path
) -> None:
    folder = tmp_path / "mail"
    client = make_web_app(**{"heliograph.mail_folder": str(folder)}).test_client()
    make_user("alice")
    with recording(*RESET_SIGNALS) as calls:
        assert ask_reset(client, "alice").status_code == 200
    [mail] = list(folder.glob("*.eml"))
    text = mail.read_text(encoding="utf-8")
    assert "alice@example.org" in text and "/user/reset/" in text
    assert len(calls["request_password_reset"]) == 1


@pytest.mark.parametrize("fullname", ["Alice", "Ålice Ünicode"])
def test_the_mail_file_holds_the_link_as_is(
    make_web_app: t.Any, tmp_path: Path, fullname: str
) -> None:
    """The .eml file is the text as written: the whole absolute link on one
    line, no quoted-printable soft breaks or =3D, so it can be clicked."""
    folder = tmp_path / "mail"
    client = make_web_app(**{"heliograph.mail_folder": str(folder)}).test_client()
    make_user("alice", fullname=fullname)
    assert ask_reset(client, "alice").status_code == 200
    [mail] = list(folder.glob("*.eml"))
    text = mail.read_bytes().decode("utf-8")
    assert "quoted-printable" not in text and "base64" not in text
    [link] = re.findall(r"^http://portal\.test/user/reset/\S+$", text, re.MULTILINE)
    assert "?key=" in link and "=3D" not in link
    assert f"Hello {fullname}," in text
    page = client.get(link.removeprefix("http://portal.test"))
    assert page.status_code == 200 and "password1" in page.get_data(as_text=True)
