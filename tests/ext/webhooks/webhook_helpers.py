"""What the webhook tests share: a real HTTP receiver on loopback that records
every request and answers as a test scripts it, and small readers."""

from __future__ import annotations

import collections
import http.server
import json
import threading
import time
import typing as t
from dataclasses import dataclass, field

import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from heliograph.events import Worker
from heliograph.ext.webhooks import delivery


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    peer: int = 0
    """The client's port: one per connection the deliveries came on."""

    @property
    def json(self) -> t.Any:
        return json.loads(self.body)

    def verify(self, secret: str) -> t.Any:
        """The payload, once ``standardwebhooks`` accepted the signature."""
        return Webhook(secret).verify(self.body, self.headers)


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"


class Receiver:
    """An HTTP/1.1 server on 127.0.0.1: ``url(path)``; ``script(path, *answers)``
    queues answers for a path (then 200); ``requests`` is what came, in order."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: dict[str, collections.deque[Answer]] = collections.defaultdict(
            collections.deque
        )
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(size)
                with receiver.lock:
                    queue = receiver.answers.get(self.path)
                    answer = queue.popleft() if queue else Answer()
                    receiver.requests.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            self.client_address[1],
                        )
                    )
                    receiver.arrived.notify_all()
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (a timeout)

            def log_message(self, *args: t.Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *answers: Answer) -> None:
        with self.lock:
            self.answers[path].extend(answers)

    def at(self, path: str = "/hook") -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, count: int, path: str = "/hook", timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.lock:
            while len([r for r in self.requests if r.path == path]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.arrived.wait(left)
        return self.at(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def drain(worker: Worker) -> int:
    """Deliver everything due now, and write the delivery log."""
    count = worker.drain()
    delivery.flush_log()
    return count


def mails(config: dict[str, t.Any]) -> list[str]:
    from pathlib import Path

    folder = Path(config["heliograph.mail_folder"])
    return [p.read_text() for p in sorted(folder.glob("*.eml"))] if folder.exists() else []


def rows(db: sa.Engine, table: sa.Table) -> list[t.Any]:
    with db.connect() as conn:
        return list(conn.execute(sa.select(table)))
