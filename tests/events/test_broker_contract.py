"""The broker interface, on each real broker (Redis Streams, NATS JetStream).

Each test runs against the machine's service in a namespace of its own.
"""

from __future__ import annotations

import collections
import collections.abc as c
import time
import typing as t

import pytest

from heliograph.events.broker import Broker, BrokerError, Delivery, partition_of
from tests.events.broker_helpers import drain, make_events

RECEIVER = "heliograph.ext.audit.record"


def by_key(deliveries: c.Iterable[Delivery]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = collections.defaultdict(list)
    for d in deliveries:
        seen[d.event.key].append(d.event.event_id)
    return dict(seen)


def test_round_trip_in_order_per_partition(broker: Broker) -> None:
    events = make_events(60, keys=7)
    broker.ensure_groups([RECEIVER])
    broker.publish(events)
    assert broker.backlog(RECEIVER) == 60

    got = drain(broker, RECEIVER, "w1", 60)

    assert sorted(d.event.event_id for d in got) == sorted(e.event_id for e in events)
    assert {d.attempt for d in got} == {1}
    assert by_key(got) == by_key(
        Delivery(event=e, partition=0, attempt=1) for e in events
    )  # every object's events in publish order
    for d in got:
        assert d.partition == partition_of(d.event.key, broker.partitions)
        assert d.event == next(e for e in events if e.event_id == d.event.event_id)
    assert broker.backlog(RECEIVER) == 0
    held = broker.acquire("w1", 10)
    assert broker.fetch(RECEIVER, held, "w1", 100, 50) == []


def test_fetch_respects_count_across_partitions(broker: Broker) -> None:
    broker.ensure_groups([RECEIVER])
    broker.publish(make_events(40, keys=12))
    held = broker.acquire("w1", 10)
    assert held == list(range(broker.partitions))
    first = broker.fetch(RECEIVER, held, "w1", 10, 0)
    assert len(first) == 10
    assert len({d.partition for d in first}) > 1  # shared among the partitions
    broker.ack(RECEIVER, first)
    rest = drain(broker, RECEIVER, "w1", 30)
    assert len(rest) == 30
    assert {d.event.event_id for d in first}.isdisjoint(d.event.event_id for d in rest)


def test_two_receivers_are_independent(broker: Broker) -> None:
    other = "heliograph.ext.search.index"
    broker.ensure_groups([RECEIVER, other])
    broker.publish(make_events(20))

    acked = drain(broker, RECEIVER, "w1", 20)
    not_acked = drain(broker, other, "w1", 20, ack=False)

    assert len(acked) == len(not_acked) == 20
    assert broker.backlog(RECEIVER) == 0
    assert broker.backlog(other) == 20  # fetched, never acknowledged
    held = broker.acquire("w1", 10)
    assert broker.fetch(RECEIVER, held, "w1", 100, 50) == []


def test_an_event_published_before_its_group_existed_is_delivered(broker: Broker) -> None:
    broker.publish(make_events(5))
    assert broker.backlog(RECEIVER) == 5  # what a group created now would read
    broker.ensure_groups([RECEIVER])
    got = drain(broker, RECEIVER, "w1", 5)
    assert sorted(d.event.event_id for d in got) == [f"ev-{i}" for i in range(5)]

    late = "heliograph.ext.mail.send"  # no ensure_groups: fetch creates the group
    got = drain(broker, late, "w1", 5)
    assert sorted(d.event.event_id for d in got) == [f"ev-{i}" for i in range(5)]


def test_a_dead_consumers_entries_go_to_the_next_holder_with_attempt_2(
    broker: Broker, peer_broker: c.Callable[[], Broker]
) -> None:
    lease = 1.0
    broker.ensure_groups([RECEIVER])
    broker.publish(make_events(12, keys=4))
    doomed = peer_broker()
    assert doomed.acquire("doomed", lease) == list(range(broker.partitions))
    time.sleep(lease * 0.6)  # fetches late in its lease: they are out past its expiry
    taken = doomed.fetch(RECEIVER, list(range(broker.partitions)), "doomed", 100, 100)
    assert len(taken) == 12
    doomed.close()  # dies: no ack, no release
    broker.publish(make_events(4, keys=4, prefix="later"))

    assert broker.acquire("heir", lease) == []  # the dead one's leases still run
    deadline = time.monotonic() + 10
    while broker.acquire("heir", lease) != list(range(broker.partitions)):
        assert time.monotonic() < deadline, "the dead consumer's leases never expired"
        time.sleep(0.1)
    got = drain(broker, RECEIVER, "heir", 16, lease=lease)

    again = [d for d in got if d.event.event_id.startswith("ev-")]
    assert sorted(d.event.event_id for d in again) == sorted(d.event.event_id for d in taken)
    assert {d.attempt for d in again} == {2}
    assert {d.attempt for d in got if d.event.event_id.startswith("later-")} == {1}
    # Within each object, the redelivered events still come first, in order.
    assert by_key(got) == {
        key: ids + [f"later-{i}" for i in range(4) if f"obj-{i}" == key]
        for key, ids in by_key(taken).items()
    }
    assert broker.backlog(RECEIVER) == 0


def test_partitions_are_shared_fairly_between_live_consumers(
    broker: Broker, peer_broker: c.Callable[[], Broker]
) -> None:
    second = peer_broker()
    everything = list(range(broker.partitions))
    assert broker.acquire("a", 10) == everything  # alone: all of them
    assert second.acquire("b", 10) == []  # its share is taken until "a" gives some away
    a = broker.acquire("a", 10)
    assert len(a) == broker.partitions // 2
    b = second.acquire("b", 10)
    assert sorted(a + b) == everything
    assert broker.acquire("a", 10) == a and second.acquire("b", 10) == b  # stable

    second.release("b")
    assert broker.acquire("a", 10) == everything  # "b" left: "a" takes the rest


def test_fetch_refuses_a_partition_out_of_range(broker: Broker) -> None:
    with pytest.raises(BrokerError, match="partition 9"):
        broker.fetch(RECEIVER, [9], "w1", 10, 0)


def test_trim_deletes_only_what_every_group_acknowledged(broker: Broker) -> None:
    trim = t.cast(t.Any, broker).trim
    slow = "heliograph.ext.search.index"
    broker.ensure_groups([RECEIVER, slow])
    broker.publish(make_events(20))
    drain(broker, RECEIVER, "w1", 20)
    pending = drain(broker, slow, "w1", 5, ack=False)  # fetched 5, acked none

    assert trim() == 0  # the slow receiver still needs everything
    broker.ack(slow, pending)
    trimmed = trim()
    # Acknowledged by both: each partition's oldest entries, up to the first
    # one the slow receiver has not acknowledged.
    assert 0 < trimmed <= 5
    assert broker.backlog(slow) == 15
    rest = drain(broker, slow, "w1", 15)
    assert {d.event.event_id for d in rest} == {f"ev-{i}" for i in range(20)} - {
        d.event.event_id for d in pending
    }
    assert broker.backlog(RECEIVER) == 0


def test_dropped_groups_read_from_the_start_when_made_again(broker: Broker) -> None:
    drop_groups = t.cast(t.Any, broker).drop_groups
    broker.ensure_groups([RECEIVER])
    broker.publish(make_events(6))
    drain(broker, RECEIVER, "w1", 6)
    assert broker.backlog(RECEIVER) == 0

    drop_groups([RECEIVER])
    assert broker.backlog(RECEIVER) == 6  # as a new group would see it
    again = drain(broker, RECEIVER, "w1", 6)
    assert sorted(d.event.event_id for d in again) == [f"ev-{i}" for i in range(6)]
