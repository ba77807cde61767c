"""Background delivery benchmark: ratios against rq and targets, in one run.

Run it with ``.venv/bin/python bench/events.py`` (``--quick`` for a rough
look, ``--events N``, ``--check`` to exit 1 when a target is missed). Every
figure is measured in this process, in this run:

1. **deliveries per second, commit to receiver done**: N events of a
   ``ckanext`` signal with one no-op background receiver are committed, then
   the clock runs until the receiver has been called for every one of them:
   embedded on SQLite, embedded on PostgreSQL, through Redis Streams (relay +
   consumer) and through NATS JetStream. The baseline is **rq** (a
   ``SimpleWorker`` in burst mode) running N already-enqueued no-op jobs on
   the same Redis. Target: heliograph at least 3x rq, each transport.
2. **the relay into Redis Streams**: N committed outbox rows published to
   the streams. Target: at least 5,000 events/s.
3. **latency, commit to receiver, at a steady 1,000 events/s through Redis**:
   a producer commits 10 events every 10 ms (PostgreSQL outbox), the relay
   and a consumer run in threads; each event's latency is the receiver's
   clock minus its commit time. Target: p99 under 10 ms.

The ``package_update`` overhead of one background receiver is measured by
``bench/portal.py --case background`` (target: at least 90% of none).
A transport whose service is unreachable is skipped with the reason.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
import time
import typing as t
import uuid
from dataclasses import dataclass

if __package__ in (None, ""):  # run as a script from a checkout: find the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

POSTGRES_URL = os.environ.get(
    "HELIOGRAPH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("HELIOGRAPH_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
NATS_URL = os.environ.get("HELIOGRAPH_BENCH_NATS_URL", "nats://127.0.0.1:4222")
RQ_TARGET = 3.0
RELAY_TARGET = 5000.0
P99_TARGET_MS = 10.0

RECEIVED: list[float] = []
"""The receiver's clock at each call (its length is the deliveries so far)."""
LATENCY_SINK: dict[str, float] = {}


def noop_receiver(sender: t.Any, **kwargs: t.Any) -> None:
    RECEIVED.append(time.perf_counter())


def latency_receiver(sender: t.Any, **kwargs: t.Any) -> None:
    from heliograph import events

    event = events.current_event()
    assert event is not None
    LATENCY_SINK[event.event_id] = time.time()


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


# -- set-up -------------------------------------------------------------------------


@dataclass
class Portal:
    engine: t.Any
    schema: str | None = None

    def close(self) -> None:
        import sqlalchemy as sa

        self.engine.dispose()
        if self.schema:
            from heliograph.model import engine_for

            admin = engine_for(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            admin.dispose()


def portal(kind: str, workdir: str) -> Portal:
    """A migrated database bound to ``model.Session``: SQLite in ``workdir`` or
    a PostgreSQL schema of its own."""
    import sqlalchemy as sa

    from heliograph import model
    from heliograph.model import engine_for, migrate

    if kind == "sqlite":
        engine = engine_for(f"sqlite:///{os.path.join(workdir, 'events.db')}")
        schema = None
    else:
        schema = f"heliograph_bench_{uuid.uuid4().hex[:10]}"
        admin = engine_for(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = sa.make_url(engine_for(POSTGRES_URL).url).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10)
    migrate.upgrade(engine)
    model.init_engine(engine)
    return Portal(engine, schema)


def subscribe(receiver: t.Callable[..., None]) -> t.Any:
    """A plugin with ``receiver`` in the background on ``ckanext.bench_events``."""
    import heliograph.plugins as p
    import heliograph.plugins.toolkit as tk

    signal = tk.signals.ckanext.signal("bench_events")

    class BenchEvents(p.SingletonPlugin):
        p.implements(p.ISignal)

        def get_signal_subscriptions(self) -> t.Any:
            return {signal: [{"receiver": receiver, "background": True}]}

    name = f"bench_events_{uuid.uuid4().hex[:6]}"
    p.register(name, BenchEvents)
    p.load(name)
    return signal, name


def commit_events(signal: t.Any, count: int, per_transaction: int = 100) -> list[float]:
    """Send ``count`` events about 50 objects, ``per_transaction`` to a
    transaction; returns each transaction's commit time (``time.time()``)."""
    from heliograph import model
    from heliograph.events import outbox

    commits = []
    session = model.Session()
    for start in range(0, count, per_transaction):
        scope = outbox.begin(session)
        for n in range(start, min(count, start + per_transaction)):
            signal.send(f"object-{n % 50}", n=n)
        session.commit()
        scope.close(committed=True)
        commits.append(time.time())
    return commits


def wait_for(count: int, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while len(RECEIVED) < count:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {len(RECEIVED)} of {count} deliveries in {timeout:g}s")
        time.sleep(0.001)
    return RECEIVED[count - 1]


# -- the measurements ----------------------------------------------------------------


def rq_rate(count: int) -> float:
    """rq: jobs per second of a SimpleWorker in burst mode on ``count`` enqueued jobs."""
    import redis
    from rq import Queue, SimpleWorker

    connection = redis.Redis.from_url(REDIS_URL)
    queue = Queue(f"heliograph-bench-{uuid.uuid4().hex[:8]}", connection=connection)
    try:
        for _ in range(count):
            queue.enqueue("os.getpid")  # a no-op job rq can import by name
        worker = SimpleWorker([queue], connection=connection)
        started = time.perf_counter()
        worker.work(burst=True, logging_level="WARNING")
        elapsed = time.perf_counter() - started
        return count / elapsed
    finally:
        queue.delete(delete_jobs=True)
        connection.close()


def embedded_rate(kind: str, count: int, workdir: str) -> float:
    """Deliveries per second from committed events, one worker thread."""
    import heliograph.plugins as p
    from heliograph.events import Worker

    db = portal(kind, workdir)
    signal, name = subscribe(noop_receiver)
    try:
        commit_events(signal, count)
        RECEIVED.clear()
        worker = Worker(db.engine)
        started = time.perf_counter()
        worker.drain(timeout=600)
        done = wait_for(count, 1.0)
        return count / (done - started)
    finally:
        p.unload(name)
        db.close()


def broker_rate(url: str, count: int, workdir: str) -> tuple[float, float]:
    """``(relay events/s, deliveries/s)`` through the broker at ``url``:
    committed outbox rows, then the relay and a consumer in threads."""
    import heliograph.plugins as p
    from heliograph import events
    from heliograph.events.broker import open_broker
    from heliograph.events.consumer import BrokerConsumer
    from heliograph.events.relay import Relay

    namespace = f"hgbench{uuid.uuid4().hex[:8]}"
    events.settings.broker = url
    events.settings.namespace = namespace
    db = portal("postgresql", workdir)
    signal, name = subscribe(noop_receiver)
    relay_broker = open_broker(url, partitions=8, namespace=namespace)
    consume_broker = open_broker(url, partitions=8, namespace=namespace)
    stop = threading.Event()
    thread: threading.Thread | None = None
    try:
        commit_events(signal, count)
        RECEIVED.clear()
        relay = Relay(db.engine, relay_broker)
        consumer = BrokerConsumer(db.engine, consume_broker, name="bench-consumer")
        started = time.perf_counter()
        relay.drain()
        relayed = time.perf_counter() - started
        thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
        thread.start()
        done = wait_for(count, 600)
        return count / relayed, count / (done - started)
    finally:
        stop.set()
        if thread is not None and thread.is_alive():  # before its broker closes under it
            thread.join(timeout=10)
        p.unload(name)
        _clean(relay_broker)
        relay_broker.close()
        consume_broker.close()
        events.settings.broker = ""
        events.settings.namespace = "heliograph"
        db.close()


def _clean(broker: t.Any) -> None:
    drop = getattr(broker, "delete_all", None)
    if callable(drop):
        drop()


def redis_latency(rate: int, seconds: float, workdir: str) -> list[float]:
    """Commit-to-receiver latencies (ms) at ``rate`` events/s through Redis."""
    import heliograph.plugins as p
    from heliograph import events
    from heliograph.events.broker import open_broker
    from heliograph.events.consumer import BrokerConsumer
    from heliograph.events.relay import Relay

    namespace = f"hgbench{uuid.uuid4().hex[:8]}"
    events.settings.broker = REDIS_URL
    events.settings.namespace = namespace
    events.settings.poll_seconds = 0.05
    db = portal("postgresql", workdir)
    signal, name = subscribe(latency_receiver)
    brokers = [open_broker(REDIS_URL, partitions=8, namespace=namespace) for _ in range(2)]
    stop = threading.Event()
    LATENCY_SINK.clear()
    committed: dict[str, float] = {}
    threads: list[threading.Thread] = []
    try:
        relay = Relay(db.engine, brokers[0])
        consumer = BrokerConsumer(db.engine, brokers[1], name="bench-latency")
        consumer.run_once()  # groups and partitions ready before the clock starts
        threads = [
            threading.Thread(target=relay.run, args=(stop,), daemon=True),
            threading.Thread(target=consumer.run, args=(stop,), daemon=True),
        ]
        for thread in threads:
            thread.start()
        from heliograph import model
        from heliograph.events import outbox

        session = model.Session()
        per_tick = max(1, rate // 100)
        ticks = int(seconds * 100)
        next_tick = time.perf_counter()
        for tick in range(ticks):
            scope = outbox.begin(session)
            for n in range(per_tick):
                signal.send(f"object-{(tick * per_tick + n) % 50}", n=n)
            ids = [row[0] for row in session.execute(_recent_ids(per_tick))]
            session.commit()
            now = time.time()
            scope.close(committed=True)
            for event_id in ids:
                committed[event_id] = now
            next_tick += 0.01
            delay = next_tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        deadline = time.time() + 30
        while len(LATENCY_SINK) < len(committed) and time.time() < deadline:
            time.sleep(0.01)
        return sorted(
            (LATENCY_SINK[event_id] - at) * 1000
            for event_id, at in committed.items()
            if event_id in LATENCY_SINK
        )
    finally:
        stop.set()
        for thread in threads:  # before their brokers close under them
            if thread.is_alive():
                thread.join(timeout=10)
        p.unload(name)
        _clean(brokers[0])
        for broker in brokers:
            broker.close()
        events.settings.broker = ""
        events.settings.namespace = "heliograph"
        events.settings.poll_seconds = 0.5
        db.close()


def _recent_ids(count: int) -> t.Any:
    import sqlalchemy as sa

    from heliograph import model

    table = model.EventOutbox.__table__
    return sa.select(table.c.event_id).order_by(table.c.id.desc()).limit(count)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[index]


# -- report -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import logging

    parser = argparse.ArgumentParser(description="heliograph background delivery benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer events (rough)")
    parser.add_argument("--events", type=int, default=None, help="events per measurement")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    count = args.events or (500 if args.quick else 5000)
    results: list[tuple[str, str, str, bool | None]] = []
    have_redis = reachable("127.0.0.1", 6379)
    have_pg = reachable("127.0.0.1", 5432)
    have_nats = reachable("127.0.0.1", 4222)
    with tempfile.TemporaryDirectory(prefix="heliograph-bench-events-") as workdir:
        rq = rq_rate(count) if have_redis else None
        if rq is None:
            print("rq baseline skipped: Redis is not reachable on 127.0.0.1:6379")
        else:
            results.append(("rq SimpleWorker (baseline)", f"{rq:,.0f} jobs/s", "", None))

        def versus(label: str, rate: float) -> None:
            ratio = rate / rq if rq else float("nan")
            met = bool(rq) and ratio >= RQ_TARGET
            results.append(
                (label, f"{rate:,.0f} deliveries/s", f"{ratio:.1f}x rq (target >= 3x)", met)
            )

        versus("embedded, SQLite", embedded_rate("sqlite", count, workdir))
        if have_pg:
            versus("embedded, PostgreSQL", embedded_rate("postgresql", count, workdir))
        else:
            print("PostgreSQL skipped: not reachable on 127.0.0.1:5432")
        from heliograph.events.broker import BrokerError

        try:
            _brokers(results, versus, count, workdir, have_pg, have_redis, have_nats, args.quick)
        except BrokerError as exc:
            print(f"brokers skipped: {exc}")
    _print(results, count)
    missed = [r for r in results if r[3] is False]
    return 1 if args.check and missed else 0


def _brokers(
    results: list[tuple[str, str, str, bool | None]],
    versus: t.Callable[[str, float], None],
    count: int,
    workdir: str,
    have_pg: bool,
    have_redis: bool,
    have_nats: bool,
    quick: bool,
) -> None:
    if have_pg and have_redis:
        relay_rate, rate = broker_rate(REDIS_URL, count, workdir)
        versus("Redis Streams (relay + consumer)", rate)
        results.append(
            (
                "relay into Redis Streams",
                f"{relay_rate:,.0f} events/s",
                "target >= 5,000/s",
                relay_rate >= RELAY_TARGET,
            )
        )
    if have_pg and have_nats:
        _relay_rate, rate = broker_rate(NATS_URL, count, workdir)
        versus("NATS JetStream (relay + consumer)", rate)
    if have_pg and have_redis:
        latencies = redis_latency(1000, 2.0 if quick else 5.0, workdir)
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        results.append(
            (
                "latency at 1,000 events/s, Redis",
                f"p50 {p50:.2f} ms, p99 {p99:.2f} ms ({len(latencies)} events)",
                "target p99 < 10 ms",
                p99 < P99_TARGET_MS,
            )
        )


def _print(results: list[tuple[str, str, str, bool | None]], count: int) -> None:
    print(f"background delivery, {count} events per measurement, one no-op receiver")
    width = max(len(r[0]) for r in results) + 2
    for label, figure, target, met in results:
        verdict = "" if met is None else ("PASS" if met else "MISS")
        print(f"{label:<{width}}{figure:<42}{target:<28}{verdict}")


if __name__ == "__main__":
    sys.exit(main())
