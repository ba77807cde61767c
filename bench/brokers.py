"""Broker throughput: publish, and fetch + ack, on Redis Streams and NATS JetStream.

Run it with ``.venv/bin/python bench/brokers.py`` (``--events N``,
``--batch N``, ``--broker redis|nats|all``). Uses the machine's services
(Redis 127.0.0.1:6379, NATS 127.0.0.1:4222) in a namespace of its own, deleted
afterwards. For each broker it prints:

- **publish**: events per second through ``Broker.publish`` in batches of
  ``--batch`` (what the relay does with committed outbox rows); the relay's
  target on Redis is at least 5,000 events/s;
- **fetch+ack**: events per second one consumer holding every partition
  fetches (``count=--batch``) and acknowledges, for one receiver.

The figures depend on the machine and its load; compare brokers within one run.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid

from heliograph.events.broker import Broker, WireEvent

RECEIVER = "bench.receiver"


def events(n: int) -> list[WireEvent]:
    now = time.time()
    return [
        WireEvent(
            event_id=uuid.uuid4().hex,
            signal="ckan.action_succeeded",
            sender="package_update",
            kwargs={
                "action": "package_update",
                "data_dict": {"id": f"dataset-{i % 500}", "notes": "x" * 100},
                "result": {"id": f"dataset-{i % 500}", "name": f"ds-{i % 500}"},
                "context": {"user": "editor", "user_id": "u-1"},
            },
            key=f"dataset-{i % 500}",
            sent_at=now,
            receivers=(RECEIVER,),
            id=i + 1,
        )
        for i in range(n)
    ]


def measure(broker: Broker, n: int, batch: int) -> tuple[float, float]:
    todo = events(n)
    broker.ensure_groups([RECEIVER])
    start = time.perf_counter()
    for i in range(0, n, batch):
        broker.publish(todo[i : i + batch])
    published = n / (time.perf_counter() - start)

    got = 0
    start = time.perf_counter()
    while got < n:
        held = broker.acquire("bench", 30)
        found = broker.fetch(RECEIVER, held, "bench", batch, 100)
        broker.ack(RECEIVER, found)
        got += len(found)
    consumed = n / (time.perf_counter() - start)
    return published, consumed


def open_one(kind: str, namespace: str) -> Broker:
    if kind == "redis":
        from heliograph.events.redis_streams import RedisStreamsBroker

        return RedisStreamsBroker("redis://127.0.0.1:6379/0", partitions=8, namespace=namespace)
    from heliograph.events.nats_jetstream import NatsJetStreamBroker

    return NatsJetStreamBroker("nats://127.0.0.1:4222", partitions=8, namespace=namespace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--broker", choices=["redis", "nats", "all"], default="all")
    args = parser.parse_args(argv)
    kinds = ["redis", "nats"] if args.broker == "all" else [args.broker]
    ok = True
    for kind in kinds:
        namespace = f"hgbench_{uuid.uuid4().hex[:8]}"
        broker = open_one(kind, namespace)
        try:
            published, consumed = measure(broker, args.events, args.batch)
        finally:
            broker.delete_all()  # type: ignore[attr-defined]
            broker.close()
        target = " (target >= 5,000)" if kind == "redis" else ""
        print(
            f"{kind:5}  publish {published:9,.0f} events/s{target}   "
            f"fetch+ack {consumed:9,.0f} events/s   "
            f"({args.events:,} events, batches of {args.batch})"
        )
        ok = ok and (kind != "redis" or published >= 5000)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
