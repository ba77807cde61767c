"""Background receivers through a broker (Redis Streams, NATS JetStream): the
relay publishes committed outbox rows, a consumer delivers them, a failure is
retried through the database with the object's later events behind it."""

from __future__ import annotations

import collections.abc as c
import threading
import time
import typing as t

import pytest
import sqlalchemy as sa

import heliograph.plugins as p
from heliograph import events
from heliograph.events import Worker
from heliograph.events.broker import Broker
from heliograph.events.consumer import BrokerConsumer
from heliograph.events.relay import Relay
from tests.events import background_samples as samples

Call = c.Callable[..., t.Any]


@pytest.fixture
def brokered(db: sa.Engine, broker: Broker) -> c.Iterator[Broker]:
    samples.RECEIVED.clear()
    samples.FAIL.clear()
    before = events.EventSettings(**vars(events.settings))
    events.settings.broker = broker.url
    events.settings.namespace = t.cast(t.Any, broker).namespace
    events.settings.partitions = broker.partitions
    events.settings.retry_base_seconds = 0.0
    events.settings.retry_max_seconds = 0.0
    events.settings.lease_seconds = 5.0
    yield broker
    for name, value in vars(before).items():
        setattr(events.settings, name, value)


def _consume_until(consumer: BrokerConsumer, worker: Worker, done: c.Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not done():
        assert time.monotonic() < deadline, f"received so far: {samples.RECEIVED}"
        consumer.run_once(block_ms=200)
        worker.drain()


def titles(name: str) -> list[str]:
    return [r["kwargs"]["result"]["title"] for r in samples.RECEIVED if r["receiver"] == name]


def test_events_travel_through_the_broker_in_order_with_retries_through_the_database(
    call: Call, dataset: dict[str, t.Any], brokered: Broker, db: sa.Engine
) -> None:
    other = call(
        "package_create", {"name": "moonspots", "owner_org": dataset["owner_org"]}, user="editor"
    )
    samples.FAIL[dataset["id"]] = 1
    p.register("bg_updates", samples.Updates, replace=True)
    with p.use_plugin("bg_updates"):
        for n in range(3):
            call("package_patch", {"id": dataset["id"], "title": f"sun {n}"}, user="editor")
            call("package_patch", {"id": other["id"], "title": f"moon {n}"}, user="editor")
        with db.connect() as conn:  # with a broker, only the outbox is written
            assert conn.execute(sa.text("SELECT count(*) FROM event_delivery")).scalar() == 0
        relay = Relay(db, brokered)
        assert relay.drain() == 6
        with db.connect() as conn:  # relayed rows leave the outbox
            assert conn.execute(sa.text("SELECT count(*) FROM event_outbox")).scalar() == 0
        consumer = BrokerConsumer(db, brokered, name="test-consumer")
        worker = Worker(db)
        _consume_until(consumer, worker, lambda: len(titles("flaky")) == 6)
    for name in ("record", "flaky"):  # order per object (objects may interleave)
        got = titles(name)
        assert [x for x in got if x.startswith("sun")] == ["sun 0", "sun 1", "sun 2"]
        assert [x for x in got if x.startswith("moon")] == ["moon 0", "moon 1", "moon 2"]
    (retried,) = [
        r for r in samples.RECEIVED if r["receiver"] == "flaky" and r["event"].attempt > 1
    ]
    assert retried["kwargs"]["result"]["title"] == "sun 0"
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM event_delivery")).scalar() == 0


def test_a_relay_that_dies_after_publishing_leaves_its_batch_to_be_published_again(
    call: Call, dataset: dict[str, t.Any], brokered: Broker, db: sa.Engine
) -> None:
    def outbox() -> int:
        with db.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM event_outbox")).scalar_one())

    p.register("bg_updates", samples.Updates, replace=True)
    with p.use_plugin("bg_updates"):
        for n in range(2):
            call("package_patch", {"id": dataset["id"], "title": f"sun {n}"}, user="editor")
        doomed = Relay(db, brokered)
        assert doomed.run_once() == 2  # published; deleted with the next read, which never comes
        assert outbox() == 2
        stopping = Relay(db, brokered)  # the next relay publishes them again: duplicates
        assert stopping.run_once() == 2
        halt = threading.Event()
        halt.set()
        stopping.run(halt)  # a relay that stops deletes what it published last
        assert outbox() == 0
        consumer = BrokerConsumer(db, brokered, name="test-consumer")
        worker = Worker(db)
        _consume_until(consumer, worker, lambda: titles("record")[-1:] == ["sun 1"])
    # Each event at least once (twice from Redis; JetStream drops the copy by
    # its message id), and in order.
    got = [(r["event"].event_id, r["kwargs"]["result"]["title"]) for r in samples.RECEIVED]
    assert {title for _id, title in got} == {"sun 0", "sun 1"}
    assert len({event_id for event_id, _title in got}) == 2
    assert [title for _id, title in dict.fromkeys(got)] == ["sun 0", "sun 1"]
