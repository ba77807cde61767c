"""Helpers of the broker tests: broker servers of their own, events, draining, restarts."""

from __future__ import annotations

import collections
import collections.abc as c
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from heliograph.events.broker import Broker, BrokerError, Delivery, WireEvent

REDIS_URL = os.environ.get("HELIOGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


NATS_URL = os.environ.get("HELIOGRAPH_TEST_NATS_URL", "nats://127.0.0.1:4222")


def unique_namespace() -> str:
    return f"hgtest_{uuid.uuid4().hex[:12]}"


def require_program(name: str) -> str:
    """The path of program ``name``; skips (or fails under
    HELIOGRAPH_REQUIRE_SERVICES=1) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (not on PATH)"
        if os.environ.get("HELIOGRAPH_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; HELIOGRAPH_REQUIRE_SERVICES=1 requires it")
        pytest.skip(reason)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process of the test's own, restartable on the same port and data."""

    name = "server"

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.dir = directory
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        assert self.proc is None, f"{self.name} already running"
        log = open(self.dir / f"{self.name}.log", "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}: "
                    + (self.dir / f"{self.name}.log").read_text(errors="replace")[-2000:]
                )
            if self.ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} on port {self.port} did not become ready")

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, by pid: no shutdown, no final flush."""
        assert self.proc is not None, f"{self.name} is not running"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None


class RedisServer(Server):
    name = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            require_program("redis-server"),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--dir", str(self.dir),
            "--save", "",
        ]  # fmt: skip

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class NatsServer(Server):
    name = "nats-server"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [
            require_program("nats-server"),
            "-js",
            "-a", "127.0.0.1",
            "-p", str(self.port),
            "-sd", str(self.dir),
        ]  # fmt: skip

    def ready(self) -> bool:
        # Ready once JetStream answers: the monitoring port is off, so ask it.
        import nats

        async def ping() -> bool:
            async def quiet(exc: Exception) -> None:
                pass

            try:
                nc = await nats.connect(
                    self.url, connect_timeout=0.5, allow_reconnect=False, error_cb=quiet
                )
            except Exception:
                return False
            try:
                await nc.jetstream().account_info()
                return True
            except Exception:
                return False
            finally:
                await nc.close()

        import asyncio

        return asyncio.run(ping())


def make_events(count: int, keys: int = 10, prefix: str = "ev") -> list[WireEvent]:
    """``count`` events about ``keys`` objects, ids ``{prefix}-{i}``."""
    now = time.time()
    return [
        WireEvent(
            event_id=f"{prefix}-{i}",
            signal="ckan.action_succeeded",
            sender="package_update",
            kwargs={"n": i, "data_dict": {"id": f"obj-{i % keys}"}},
            key=f"obj-{i % keys}",
            sent_at=now,
            receivers=("audit.record",),
            id=i + 1,
        )
        for i in range(count)
    ]


def drain(
    broker: Broker,
    receiver: str,
    consumer: str,
    want: int,
    *,
    ack: bool = True,
    lease: float = 10.0,
    timeout: float = 15.0,
) -> list[Delivery]:
    """Fetch (and ack) for ``receiver`` as ``consumer`` until ``want`` deliveries
    came or ``timeout`` passed; every delivery, in fetch order."""
    got: list[Delivery] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        held = broker.acquire(consumer, lease)
        batch = broker.fetch(receiver, held, consumer, min(100, want - len(got)), 100)
        got.extend(batch)
        if ack and batch:
            broker.ack(receiver, batch)
    return got


@dataclass
class RestartRun:
    """What :func:`run_through_restart` saw."""

    published: list[str]  # event ids whose publish returned, in publish order
    received: collections.Counter[str]
    first_seen: list[str]  # event ids in the order first fetched
    publish_failures: int  # publish calls that raised BrokerError (retried)
    published_at_kill: int


def run_through_restart(
    server: Server,
    connect: c.Callable[[], Broker],
    *,
    total: int = 3000,
    batch: int = 100,
    receiver: str = "heliograph.ext.audit.record",
    timeout: float = 30.0,
) -> RestartRun:
    """Publish ``total`` events in batches while a consumer fetches and acks
    them; SIGKILL ``server`` a third of the way and start it again on the same
    port and data 1.5 s later. Publishing retries a batch until it is
    acknowledged; fetching retries until every acknowledged event came."""
    events = make_events(total, keys=50)
    publisher = _retrying(connect)
    while True:
        try:
            publisher.ensure_groups([receiver])
            break
        except BrokerError:
            time.sleep(0.05)
    published: list[str] = []
    received: collections.Counter[str] = collections.Counter()
    first_seen: list[str] = []
    done = threading.Event()
    give_up = threading.Event()
    failures = 0
    at_kill = -1

    def consume() -> None:
        broker: Broker | None = None
        while not give_up.is_set() and not (done.is_set() and set(published) <= received.keys()):
            try:
                if broker is None:
                    broker = connect()
                held = broker.acquire("consumer", 2.0)
                got = broker.fetch(receiver, held, "consumer", 200, 100)
                for d in got:
                    if not received[d.event.event_id]:
                        first_seen.append(d.event.event_id)
                    received[d.event.event_id] += 1
                broker.ack(receiver, got)
            except BrokerError:
                time.sleep(0.05)
        if broker is not None:
            broker.close()

    def restart() -> None:
        time.sleep(1.5)  # longer than the clients' own retries
        server.start()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    restarter: threading.Thread | None = None
    try:
        for start in range(0, total, batch):
            chunk = events[start : start + batch]
            while True:
                try:
                    publisher.publish(chunk)
                    break
                except BrokerError:
                    failures += 1
                    time.sleep(0.05)
            published.extend(e.event_id for e in chunk)
            if restarter is None and start >= total // 3:
                at_kill = len(published)
                server.kill()
                restarter = threading.Thread(target=restart, daemon=True)
                restarter.start()
            time.sleep(0.005)
        done.set()
        consumer.join(timeout)
    finally:
        done.set()
        give_up.set()
        consumer.join(10)
        if restarter is not None:
            restarter.join(10)
        publisher.close()
    return RestartRun(published, received, first_seen, failures, at_kill)


def out_of_order(run: RestartRun, keys: int = 50) -> dict[int, list[int]]:
    """The objects whose events were first fetched out of publish order."""
    order = {event_id: i for i, event_id in enumerate(run.published)}
    per_key: dict[int, list[int]] = {}
    for event_id in run.first_seen:
        per_key.setdefault(order[event_id] % keys, []).append(order[event_id])
    return {key: seq for key, seq in per_key.items() if seq != sorted(seq)}


def _retrying(connect: c.Callable[[], Broker]) -> Broker:
    deadline = time.monotonic() + 10
    while True:
        try:
            return connect()
        except BrokerError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
