"""Helpers shared by the account tests: CSRF tokens from pages, signal recorders,
users made through the action layer, and a real SMTP server on loopback."""

from __future__ import annotations

import collections.abc as c
import contextlib
import re
import socket
import threading
import typing as t
from email import message_from_bytes, policy
from email.message import EmailMessage

from flask.testing import FlaskClient

from heliograph import logic

PASSWORD = "correct-horse-9"

Calls = list[tuple[t.Any, dict[str, t.Any]]]


def csrf_token(client: FlaskClient, path: str = "/user/login") -> str:
    page = client.get(path)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def make_user(name: str = "alice", password: str = PASSWORD, **extra: t.Any) -> dict[str, t.Any]:
    data = {"name": name, "email": f"{name}@example.org", "password": password, **extra}
    result: dict[str, t.Any] = logic.get_action("user_create")({"ignore_auth": True}, data)
    return result


def log_in(client: FlaskClient, login: str, password: str = PASSWORD) -> t.Any:
    token = csrf_token(client)
    return client.post(
        "/user/login", data={"login": login, "password": password, "csrf_token": token}
    )


@contextlib.contextmanager
def recording(*signals: t.Any) -> c.Iterator[dict[str, Calls]]:
    """Record every send of ``signals`` (by name) while the block runs."""
    calls: dict[str, Calls] = {s.name: [] for s in signals}
    receivers = []
    with contextlib.ExitStack() as stack:
        for sig in signals:

            def receiver(sender: t.Any, _name: str = sig.name, **kwargs: t.Any) -> None:
                calls[_name].append((sender, kwargs))

            receivers.append(receiver)
            stack.enter_context(sig.connected_to(receiver))
        yield calls


def run_jobs() -> int:
    """Run the background jobs due now (the reset mail) in a worker thread,
    as a worker process would; the number of jobs and events delivered."""
    from heliograph.events import Worker

    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(Worker().drain()))
    thread.start()
    thread.join(60)
    assert done, "the worker did not finish"
    return done[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MailBox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: t.Any, session: t.Any, envelope: t.Any) -> str:
        content = envelope.content
        raw = content if isinstance(content, bytes) else content.encode("utf-8")
        self.messages.append(t.cast(EmailMessage, message_from_bytes(raw, policy=policy.default)))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"
