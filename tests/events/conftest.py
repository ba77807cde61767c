"""Broker fixtures: brokers on the machine's Redis and NATS, and servers of a
test's own (for restarts).

- ``redis_broker`` / ``nats_broker``: a broker with 4 partitions on the shared
  service (127.0.0.1:6379 / 127.0.0.1:4222) in a namespace of its own, whose
  streams, groups and leases are deleted afterwards. Another broker on the
  same namespace (a second worker) is
  ``type(b)(b.url, partitions=b.partitions, namespace=b.namespace)``, or the
  ``peer_broker`` fixture.
- ``broker``: each of the two in turn (for tests of the interface).
- ``redis_server_factory`` / ``nats_server_factory``: ``factory()`` starts a
  server of the test's own on a free port with persistence in a temporary
  directory; ``.kill()`` sends it SIGKILL, ``.start()`` starts it again on the
  same port and directory, ``.url`` is its URL. Stopped at the end of the test.

The shared services are never restarted, flushed or reconfigured.
"""

from __future__ import annotations

import collections.abc as c
import contextlib
import typing as t

import pytest

from heliograph.events.broker import Broker
from tests.events.broker_helpers import (
    NATS_URL,
    REDIS_URL,
    NatsServer,
    RedisServer,
    Server,
    require_program,
    unique_namespace,
)
from tests.helpers import require_service


@pytest.fixture
def redis_broker() -> c.Iterator[Broker]:
    from heliograph.events.redis_streams import RedisStreamsBroker

    require_service("Redis", "127.0.0.1", 6379)
    broker = RedisStreamsBroker(REDIS_URL, partitions=4, namespace=unique_namespace())
    try:
        yield broker
    finally:
        broker.delete_all()
        broker.close()


@pytest.fixture
def nats_broker() -> c.Iterator[Broker]:
    from heliograph.events.nats_jetstream import NatsJetStreamBroker

    require_service("NATS", "127.0.0.1", 4222)
    broker = NatsJetStreamBroker(NATS_URL, partitions=4, namespace=unique_namespace())
    try:
        yield broker
    finally:
        broker.delete_all()
        broker.close()


@pytest.fixture(params=["redis", "nats"])
def broker(request: pytest.FixtureRequest) -> Broker:
    """Each broker in turn, on its shared service."""
    value = request.getfixturevalue(f"{request.param}_broker")
    assert isinstance(value, Broker)
    return value


@pytest.fixture
def peer_broker(broker: Broker) -> c.Iterator[c.Callable[[], Broker]]:
    """``peer_broker()``: another connection to ``broker``'s namespace (a second worker)."""
    made: list[Broker] = []

    def make() -> Broker:
        same = t.cast(t.Any, broker)
        peer = t.cast(
            Broker, type(same)(same.url, partitions=same.partitions, namespace=same.namespace)
        )
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()


def _factory(
    kind: type[Server], tmp_path_factory: pytest.TempPathFactory
) -> c.Iterator[c.Callable[[], Server]]:
    started: list[Server] = []

    def make() -> Server:
        server = kind(tmp_path_factory.mktemp(kind.name))
        started.append(server)
        server.start()
        return server

    yield make
    for server in started:
        with contextlib.suppress(Exception):
            server.stop()


@pytest.fixture
def redis_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> c.Iterator[c.Callable[[], Server]]:
    require_program("redis-server")
    yield from _factory(RedisServer, tmp_path_factory)


@pytest.fixture
def nats_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> c.Iterator[c.Callable[[], Server]]:
    require_program("nats-server")
    yield from _factory(NatsServer, tmp_path_factory)
