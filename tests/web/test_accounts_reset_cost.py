"""Asking for a password reset does the same work inside the request whoever
is named - an account's name or address, or nobody's - and whether or not the
mail server is up: no lookup, no key, no hash, no mail in the request (only a
job is enqueued; the rest runs in a worker, in users.mail_reset_link), and the
same answer."""

from __future__ import annotations

import collections.abc as c
import re
import threading
import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from heliograph.events import jobs
from heliograph.lib import mailer, signals
from heliograph.logic import users
from tests.web.accounts_helpers import (
    MailBox,
    csrf_token,
    free_port,
    make_user,
    recording,
    run_jobs,
)

LOGINS = ("alice", "alice@example.org", "ALICE@example.org", "nobody", "nobody@example.org")


class Work:
    """What each thread did: SQL statements, Argon2 calls, mails, enqueued jobs."""

    def __init__(self) -> None:
        self.sql: list[tuple[int, str]] = []
        self.argon2: list[tuple[int, str]] = []
        self.mail: list[tuple[int, str]] = []
        self.deferred: list[tuple[t.Any, tuple[str, ...]]] = []
        self.mail_threads: set[int] = set()  # never cleared

    def clear(self) -> None:
        for items in (self.sql, self.argon2, self.mail, self.deferred):
            items.clear()

    def of(self, thread: int) -> dict[str, list[str]]:
        return {
            "sql": [s for i, s in self.sql if i == thread],
            "argon2": [s for i, s in self.argon2 if i == thread],
            "mail": [s for i, s in self.mail if i == thread],
        }


@pytest.fixture
def work(db: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> c.Iterator[Work]:
    seen = Work()

    def on_sql(_conn: t.Any, _cursor: t.Any, statement: str, *_args: t.Any) -> None:
        seen.sql.append((threading.get_ident(), statement))

    real_hasher, real_send, real_enqueue = users._hasher, mailer.send_mail, jobs.enqueue

    class CountingHasher:
        def __getattr__(self, name: str) -> t.Any:
            return getattr(real_hasher, name)

        def hash(self, password: str) -> str:
            seen.argon2.append((threading.get_ident(), "hash"))
            return real_hasher.hash(password)

        def verify(self, hash: str, password: str) -> bool:
            seen.argon2.append((threading.get_ident(), "verify"))
            return real_hasher.verify(hash, password)

    def send_mail(config: t.Any, to: str, subject: str, body: str) -> None:
        seen.mail.append((threading.get_ident(), to))
        seen.mail_threads.add(threading.get_ident())
        real_send(config, to, subject, body)

    def enqueue(job: t.Any, args: list[str], **options: t.Any) -> dict[str, t.Any]:
        seen.deferred.append((job, tuple(args)))
        return real_enqueue(job, args, **options)

    monkeypatch.setattr(users, "_hasher", CountingHasher())
    monkeypatch.setattr(mailer, "send_mail", send_mail)
    monkeypatch.setattr(jobs, "enqueue", enqueue)
    sa.event.listen(sa.Engine, "before_cursor_execute", on_sql)  # the app's engine too
    try:
        yield seen
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", on_sql)


def ask(client: FlaskClient, login: str) -> t.Any:
    token = csrf_token(client, "/user/reset")
    return client.post("/user/reset", data={"user": login, "csrf_token": token})


def answer(response: t.Any) -> tuple[int, str, list[tuple[str, str]]]:
    body = re.sub(r'name="csrf_token" value="[^"]+"', "", response.get_data(as_text=True))
    headers = sorted((k, v) for k, v in response.headers.items() if k != "Set-Cookie")
    return response.status_code, body, headers


def requests_for_every_login(client: FlaskClient, work: Work) -> dict[str, t.Any]:
    make_user("alice")
    request_thread = threading.get_ident()
    seen: dict[str, t.Any] = {}
    for login in LOGINS:
        csrf_token(client, "/user/reset")  # the form page's own work is not compared
        work.clear()
        response = ask(client, login)
        seen[login] = {
            "answer": answer(response),
            "in_request": work.of(request_thread),
            "deferred": list(work.deferred),
        }
        run_jobs()
    return seen


def assert_same_request_work(seen: dict[str, t.Any]) -> None:
    first = seen[LOGINS[0]]
    assert first["answer"][0] == 200
    assert "If an account matches" in first["answer"][1]
    # The only statement in the request is the job's row in the outbox.
    assert first["in_request"]["argon2"] == first["in_request"]["mail"] == []
    assert first["in_request"]["sql"], "the job was not written in the request"
    assert all("event_" in s or "NOTIFY" in s for s in first["in_request"]["sql"]), first
    for login, what in seen.items():
        assert what["answer"] == first["answer"], login
        assert what["in_request"] == first["in_request"], login
        assert what["deferred"] == [(users.mail_reset_link, (login,))], login


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


def test_existing_and_missing_accounts_cost_the_request_the_same(
    make_web_app: t.Callable[..., Flask], smtp: tuple[MailBox, int], work: Work
) -> None:
    box, port = smtp
    client = make_web_app(**{"smtp.server": f"127.0.0.1:{port}"}).test_client()
    with recording(signals.request_password_reset) as calls:
        seen = requests_for_every_login(client, work)
    assert_same_request_work(seen)
    # The mail went afterwards, for the three logins naming alice, from another thread.
    assert box.recipients == [["alice@example.org"]] * 3
    assert len(calls["request_password_reset"]) == 3
    assert work.mail_threads and threading.get_ident() not in work.mail_threads


def test_with_the_mail_server_down_nobody_gets_a_different_answer(
    make_web_app: t.Callable[..., Flask], work: Work
) -> None:
    client = make_web_app(**{"smtp.server": f"127.0.0.1:{free_port()}"}).test_client()
    with recording(signals.request_password_reset) as calls:
        seen = requests_for_every_login(client, work)
    assert_same_request_work(seen)
    assert calls["request_password_reset"] == []


def test_an_overlong_login_answers_the_same_and_looks_nobody_up(
    app: Flask, client: FlaskClient, work: Work
) -> None:
    make_user("alice")
    normal = ask(client, "nobody")
    run_jobs()
    work.clear()
    long = ask(client, "x" * 5000)
    run_jobs()
    assert answer(long) == answer(normal)
    assert [s for _i, s in work.sql if "user" in s.lower()] == []
