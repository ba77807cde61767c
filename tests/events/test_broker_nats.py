"""NATS JetStream specifics: survival of a broker restart, de-duplication,
names, errors."""

from __future__ import annotations

import collections.abc as c
import time

import pytest

from heliograph.events.broker import Broker, BrokerError, open_broker
from heliograph.events.nats_jetstream import NatsJetStreamBroker, consumer_name
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


def test_no_acknowledged_event_is_lost_when_nats_is_killed_and_restarted(
    nats_server_factory: c.Callable[[], Server],
) -> None:
    server = nats_server_factory()
    namespace = unique_namespace()

    def connect() -> Broker:
        return NatsJetStreamBroker(server.url, partitions=4, namespace=namespace)

    run = run_through_restart(server, connect, total=3000)

    assert len(run.published) == 3000
    assert 0 < run.published_at_kill < 3000  # killed mid-run
    missing = set(run.published) - run.received.keys()
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
    assert run.received.keys() <= set(run.published)
    assert out_of_order(run) == {}  # each object's events first came in publish order


def test_publishing_an_event_again_delivers_it_once(nats_broker: NatsJetStreamBroker) -> None:
    nats_broker.ensure_groups([RECEIVER])
    events = make_events(10)
    nats_broker.publish(events)
    nats_broker.publish(events[3:7])  # a relay retrying a batch
    assert nats_broker.backlog(RECEIVER) == 10
    got = drain(nats_broker, RECEIVER, "w1", 10)
    assert sorted(d.event.event_id for d in got) == sorted(e.event_id for e in events)
    assert drain(nats_broker, RECEIVER, "w1", 1, timeout=0.3) == []


def test_consumer_names_are_valid_and_distinct() -> None:
    names = {consumer_name(r, p) for r in ("a.b.c", "a_b.c", "a.b_c") for p in range(3)}
    assert len(names) == 9
    for name in names:
        assert all(ch.isalnum() or ch in "_-" for ch in name), name


def test_a_namespace_nats_cannot_name_is_refused() -> None:
    with pytest.raises(BrokerError, match=r"namespace 'my\.portal' must be letters"):
        NatsJetStreamBroker("nats://127.0.0.1:4222", namespace="my.portal")


def test_unreachable_nats_names_the_server_but_not_the_password() -> None:
    port = free_port()
    with pytest.raises(BrokerError) as caught:
        NatsJetStreamBroker(f"nats://heliograph:hunter2@127.0.0.1:{port}", namespace="x")
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "hunter2" not in message


def test_open_broker_gives_the_nats_broker(nats_broker: NatsJetStreamBroker) -> None:
    opened = open_broker(nats_broker.url, partitions=4, namespace=nats_broker.namespace)
    try:
        assert isinstance(opened, NatsJetStreamBroker)
        assert opened.stream == f"{nats_broker.namespace.upper()}_EVENTS"
    finally:
        opened.close()


def test_a_shorter_lease_applies_to_leases_already_held(
    nats_broker: NatsJetStreamBroker,
) -> None:
    everything = list(range(nats_broker.partitions))
    first = NatsJetStreamBroker(
        nats_broker.url, partitions=nats_broker.partitions, namespace=nats_broker.namespace
    )
    try:
        assert first.acquire("first", 60) == everything
        assert first.acquire("first", 1) == everything  # reconfigured, then dies
    finally:
        first.close()
    deadline = time.monotonic() + 8
    while nats_broker.acquire("second", 1) != everything:
        assert time.monotonic() < deadline, "leases taken with the 60 s lease never expired"
        time.sleep(0.1)


def test_a_stream_deleted_under_the_broker_is_created_again(
    nats_broker: NatsJetStreamBroker,
) -> None:
    nats_broker.ensure_groups([RECEIVER])
    drain(nats_broker, RECEIVER, "w1", 0)
    other = NatsJetStreamBroker(nats_broker.url, namespace=nats_broker.namespace)
    other.delete_all()
    other.close()
    with pytest.raises(BrokerError, match="publishing events"):
        nats_broker.publish(make_events(1))
    nats_broker.publish(make_events(3))  # the relay's retry
    got = drain(nats_broker, RECEIVER, "w1", 3, timeout=5)
    assert sorted(d.event.event_id for d in got) == ["ev-0", "ev-1", "ev-2"]
