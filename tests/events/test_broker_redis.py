"""Redis Streams specifics: survival of a broker restart, errors, trimming."""

from __future__ import annotations

import collections.abc as c

import pytest
import redis

from heliograph.events.broker import Broker, BrokerError, open_broker
from heliograph.events.redis_streams import RedisStreamsBroker
from tests.events.broker_helpers import (
    Server,
    drain,
    free_port,
    make_events,
    out_of_order,
    run_through_restart,
    unique_namespace,
)

RECEIVER = "heliograph.ext.audit.record"


def test_no_acknowledged_event_is_lost_when_redis_is_killed_and_restarted(
    redis_server_factory: c.Callable[[], Server],
) -> None:
    server = redis_server_factory()
    namespace = unique_namespace()

    def connect() -> Broker:
        return RedisStreamsBroker(server.url, partitions=4, namespace=namespace)

    run = run_through_restart(server, connect, total=3000)

    assert len(run.published) == 3000
    assert 0 < run.published_at_kill < 3000  # killed mid-run
    missing = set(run.published) - run.received.keys()
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    assert run.received.keys() <= set(run.published)
    assert out_of_order(run) == {}  # each object's events first came in publish order


def test_unreachable_redis_names_the_server_but_not_the_password() -> None:
    port = free_port()
    broker = RedisStreamsBroker(f"redis://:hunter2@127.0.0.1:{port}/0", namespace="x")
    with pytest.raises(BrokerError) as caught:
        broker.publish(make_events(1))
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "hunter2" not in message
    assert "publishing events" in message


def test_open_broker_gives_the_redis_broker(redis_broker: RedisStreamsBroker) -> None:
    opened = open_broker(redis_broker.url, partitions=2, namespace=redis_broker.namespace)
    try:
        assert isinstance(opened, RedisStreamsBroker)
        assert opened.partitions == 2
        assert opened.stream_key(1) == f"{redis_broker.namespace}:events:1"
    finally:
        opened.close()


def test_release_forgets_the_consumer_where_it_holds_nothing(
    redis_broker: RedisStreamsBroker,
) -> None:
    other = "heliograph.ext.search.index"
    redis_broker.ensure_groups([RECEIVER, other])
    redis_broker.publish(make_events(8))
    drain(redis_broker, RECEIVER, "w1", 8)
    unacked = drain(redis_broker, other, "w1", 8, ack=False)
    redis_broker.release("w1")

    client = redis.Redis.from_url(redis_broker.url)
    try:

        def consumers(group: str) -> set[bytes]:
            return {
                c["name"]
                for p in range(redis_broker.partitions)
                for c in client.xinfo_consumers(redis_broker.stream_key(p), group)
            }

        assert b"w1" not in consumers(RECEIVER)
        assert b"w1" in consumers(other)  # still pending there, for the next holder
    finally:
        client.close()
    again = drain(redis_broker, other, "w2", 8)
    assert {d.event.event_id for d in again} == {d.event.event_id for d in unacked}
    assert {d.attempt for d in again} == {2}


def test_streams_deleted_under_the_broker_get_their_groups_again(
    redis_broker: RedisStreamsBroker,
) -> None:
    redis_broker.ensure_groups([RECEIVER])
    other = RedisStreamsBroker(redis_broker.url, namespace=redis_broker.namespace)
    other.delete_all()
    other.close()
    redis_broker.publish(make_events(3))
    got = drain(redis_broker, RECEIVER, "w1", 3, timeout=5)
    assert sorted(d.event.event_id for d in got) == ["ev-0", "ev-1", "ev-2"]
