"""The NATS JetStream broker.

Layout on the server, for namespace ``ns`` (letters, digits, ``_``, ``-``)
and ``P`` partitions:

- stream ``NS_EVENTS`` (file storage, nothing deleted implicitly) on subjects
  ``ns.events.{p}``; every event is published with ``Nats-Msg-Id`` = its
  ``event_id``, so publishing it again within the stream's de-duplication
  window (two minutes) stores nothing;
- one durable pull consumer per (receiver, partition), filtered on the
  partition's subject, explicit ack, ``ack_wait`` = the lease, deliver all,
  never giving up redelivery; its name is the receiver's path made safe
  (``.`` and the like become ``_``) plus a hash of the path and ``_p{p}``;
- KV bucket ``NS_LEASES`` (keys ``p{p}``: the consumer holding partition
  ``p``; created to take, updated with the last revision to renew) and
  ``NS_CONSUMERS`` (one key per live consumer, written on every ``acquire``),
  both with the lease as their TTL, so a dead consumer's leases and heartbeat
  expire on the server.

nats-py is asynchronous: the broker runs one event loop in a daemon thread and
calls into it, so the interface stays synchronous (and safe to call from
several threads).

Entries a dead consumer fetched and never acknowledged are redelivered by
JetStream once their ``ack_wait`` runs out, before newer entries. So that a
new holder of a partition does not overtake them, it fetches nothing from a
partition it took over with entries still unacknowledged until that time has
passed.
"""

from __future__ import annotations

import asyncio
import collections.abc as c
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import math
import re
import threading
import time
import typing as t
import urllib.parse

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    StorageType,
    StreamConfig,
)
from nats.js.kv import KeyValue

from heliograph.events.broker import Broker, BrokerError, Delivery, WireEvent, partition_of

log = logging.getLogger(__name__)

NAMESPACE = re.compile(r"[A-Za-z0-9_-]+")
UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_=-]")
DEFAULT_LEASE = 30.0
PUBLISH_BATCH = 1000
PULL_TIMEOUT = 5.0
MAX_BLOCK_MS = 20_000
TAKEOVER_MARGIN = 0.25
DISCONNECTED = "disconnected"
CALL_TIMEOUT = 60.0
ERRORS = (nats.errors.Error, OSError, TimeoutError)


def redact(url: str) -> str:
    """``url`` without a password or token (for messages)."""
    out = []
    for one in url.split(","):
        try:
            parts = urllib.parse.urlsplit(one.strip())
        except ValueError:
            out.append("<unparseable URL>")
            continue
        host = parts.netloc.rsplit("@", 1)[-1]
        if "@" in parts.netloc:
            user = parts.username if parts.password is not None else None
            host = f"{user}:***@{host}" if user else f"***@{host}"
        out.append(urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", "")))
    return ",".join(out)


def consumer_name(receiver: str, partition: int) -> str:
    """The durable consumer of ``receiver`` on ``partition``: readable, unique
    (a hash of the full path) and valid as a JetStream name."""
    digest = hashlib.sha256(receiver.encode("utf-8")).hexdigest()[:12]
    return f"{UNSAFE.sub('_', receiver)[:40]}_{digest}_p{partition}"


def consumer_key(consumer: str) -> str:
    """The KV key of a live consumer's heartbeat."""
    digest = hashlib.sha256(consumer.encode("utf-8")).hexdigest()[:12]
    return f"{KEY_UNSAFE.sub('_', consumer)[:40]}_{digest}"


class _Pull:
    """One pull request in flight: the messages it brought, done at ``batch``
    messages or a status message (no messages, request timeout)."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.msgs: list[Msg] = []
        self.status: str | None = None
        self.done = asyncio.get_running_loop().create_future()

    def fail(self, status: str) -> None:
        if not self.done.done():
            self.status = status
            self.done.set_result(None)

    def add(self, msg: Msg) -> None:
        if self.done.done():
            return
        status = msg.headers.get("Status") if msg.headers else None
        if status is not None and not msg.data:
            if status == "100":  # idle heartbeat
                return
            self.status = status
            self.done.set_result(None)
            return
        self.msgs.append(msg)
        if len(self.msgs) >= self.batch:
            self.done.set_result(None)


class NatsJetStreamBroker(Broker):
    """Partitioned event log on NATS JetStream (nats-server 2.9 or later).

    ``url`` is one NATS URL or several separated by commas
    (``nats://[user:password@]host:port``). ``lease_seconds`` is the consumers'
    ``ack_wait`` until the first :meth:`acquire` names the lease. Operations
    raise :class:`BrokerError` naming the server (never a password or token)
    when NATS is unreachable or refuses them.
    """

    def __init__(
        self,
        url: str,
        partitions: int = 8,
        namespace: str = "heliograph",
        *,
        lease_seconds: float = DEFAULT_LEASE,
    ) -> None:
        if partitions < 1:
            raise BrokerError(f"partitions must be at least 1, not {partitions}")
        if not NAMESPACE.fullmatch(namespace):
            raise BrokerError(
                f"NATS broker namespace {namespace!r} must be letters, digits, '_' or '-'"
            )
        self.url = url
        self.partitions = partitions
        self.namespace = namespace
        self.stream = f"{namespace.upper()}_EVENTS"
        self.leases_bucket = f"{namespace.upper()}_LEASES"
        self.consumers_bucket = f"{namespace.upper()}_CONSUMERS"
        self._where = f"NATS at {redact(url)}"
        self._lease = lease_seconds
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"heliograph-nats-{namespace}", daemon=True
        )
        self._thread.start()
        self._closed = False
        # State below is only touched on the loop.
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._inbox = ""
        self._pulls: dict[str, _Pull] = {}  # by request token and by consumer name
        self._locks: dict[str, asyncio.Lock] = {}
        self._serial = 0
        self._consumers: dict[tuple[str, int], float] = {}  # -> its ack_wait
        self._kv: dict[str, KeyValue] = {}
        self._bucket_ttl: float | None = None
        self._held: dict[str, dict[int, int]] = {}  # consumer -> partition -> revision
        self._taken: dict[int, float] = {}  # partition -> when it was taken over
        self._settled: set[tuple[str, int]] = set()  # (receiver, partition) checked since
        self._suspect: dict[tuple[str, int], float] = {}  # -> when a fetch or ack was lost
        try:
            self._call(self._connect(), "connecting")
        except BrokerError:
            self._stop_loop()
            raise

    # -- plumbing -----------------------------------------------------------

    def _call(self, coro: c.Coroutine[t.Any, t.Any, t.Any], doing: str) -> t.Any:
        if self._closed:
            coro.close()
            raise BrokerError(f"{self._where}: {doing} failed: the broker is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(CALL_TIMEOUT)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BrokerError(f"{self._where}: {doing} timed out") from None
        except BrokerError:
            raise
        except ERRORS as exc:
            detail = str(exc) or type(exc).__name__
            raise BrokerError(f"{self._where}: {doing} failed: {detail}") from None

    async def _connect(self) -> None:
        down = False

        async def on_error(exc: Exception) -> None:
            # Every failed reconnection attempt reports here: once is enough.
            log.log(logging.DEBUG if down else logging.WARNING, "%s: %s", self._where, exc)

        async def on_disconnect() -> None:
            nonlocal down
            down = True
            for pull in self._pulls.values():
                pull.fail(DISCONNECTED)
            if not self._closed:
                log.warning("%s: disconnected, reconnecting", self._where)

        async def on_reconnect() -> None:
            nonlocal down
            down = False
            log.warning("%s: reconnected", self._where)

        try:
            # Two attempts at the first connection; once connected, reconnect forever.
            nc = await nats.connect(
                [s.strip() for s in self.url.split(",")],
                name=f"heliograph-{self.namespace}",
                connect_timeout=5,
                reconnect_time_wait=0.25,
                max_reconnect_attempts=1,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            )
        except ERRORS as exc:
            detail = str(exc) or type(exc).__name__
            raise BrokerError(f"{self._where}: cannot connect: {detail}") from None
        nc.options["max_reconnect_attempts"] = -1
        self._nc = nc
        self._js = nc.jetstream(timeout=PULL_TIMEOUT)
        self._inbox = nc.new_inbox()
        await nc.subscribe(f"{self._inbox}.*", cb=self._on_pulled)
        await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        js = self._jsc()
        config = StreamConfig(
            name=self.stream,
            subjects=[f"{self.namespace}.events.*"],
            storage=StorageType.FILE,
            duplicate_window=120.0,
        )
        try:
            await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            self._consumers.clear()  # none survive their stream
            try:
                await js.add_stream(config)
            except nats.js.errors.BadRequestError as exc:
                raise BrokerError(
                    f"{self._where}: cannot create stream {self.stream}: {exc.description}"
                ) from None

    def _jsc(self) -> JetStreamContext:
        assert self._js is not None
        return self._js

    def _client(self) -> Client:
        assert self._nc is not None
        return self._nc

    def subject(self, partition: int) -> str:
        return f"{self.namespace}.events.{partition}"

    # -- publishing ---------------------------------------------------------

    def publish(self, events: c.Sequence[WireEvent]) -> None:
        self._call(self._publish(events), "publishing events")

    async def _publish(self, events: c.Sequence[WireEvent]) -> None:
        for start in range(0, len(events), PUBLISH_BATCH):
            futures: list[asyncio.Future[t.Any]] = []
            try:
                results = await asyncio.wait_for(
                    self._publish_batch(events[start : start + PUBLISH_BATCH], futures),
                    PULL_TIMEOUT * 2,
                )
            except TimeoutError:
                for future in futures:
                    future.cancel()
                raise BrokerError(
                    f"{self._where}: publishing events failed: "
                    f"no acknowledgement from stream {self.stream}"
                ) from None
            for result in results:
                if isinstance(result, BaseException):
                    if isinstance(
                        result, nats.js.errors.NoStreamResponseError | nats.errors.NoRespondersError
                    ):
                        await self._ensure_stream()  # deleted under us: there again for a retry
                    detail = getattr(result, "description", None) or str(result) or repr(result)
                    raise BrokerError(
                        f"{self._where}: publishing events to {self.stream} failed: {detail}"
                    )

    async def _publish_batch(
        self, events: c.Sequence[WireEvent], futures: list[asyncio.Future[t.Any]]
    ) -> list[t.Any]:
        js = self._jsc()
        for event in events:
            futures.append(
                await js.publish_async(
                    self.subject(partition_of(event.key, self.partitions)),
                    event.to_json(),
                    headers={"Nats-Msg-Id": event.event_id},
                )
            )
        return await asyncio.gather(*futures, return_exceptions=True)

    # -- consumer groups ----------------------------------------------------

    def ensure_groups(self, receivers: c.Iterable[str]) -> None:
        wanted = list(dict.fromkeys(receivers))
        self._call(self._ensure_consumers(wanted, range(self.partitions)), "creating consumers")

    async def _ensure_consumers(self, receivers: list[str], partitions: c.Iterable[int]) -> None:
        missing = [
            (r, p)
            for r in receivers
            for p in partitions
            if self._consumers.get((r, p)) != self._lease
        ]
        if missing:
            await asyncio.gather(*(self._ensure_consumer(r, p) for r, p in missing))

    async def _ensure_consumer(self, receiver: str, partition: int) -> None:
        ack_wait = self._lease
        config = ConsumerConfig(
            durable_name=consumer_name(receiver, partition),
            description=f"{receiver} on partition {partition}",
            filter_subject=self.subject(partition),
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=ack_wait,
            max_deliver=-1,
            max_ack_pending=-1,
        )
        try:
            try:
                await self._jsc().add_consumer(self.stream, config)
            except nats.js.errors.NotFoundError:  # the stream was deleted under us
                await self._ensure_stream()
                await self._jsc().add_consumer(self.stream, config)
        except nats.js.errors.APIError as exc:
            raise BrokerError(
                f"{self._where}: cannot create the consumer of {receiver} "
                f"on partition {partition}: {exc.description}"
            ) from None
        self._consumers[(receiver, partition)] = ack_wait

    def drop_groups(self, receivers: c.Iterable[str]) -> None:
        """Delete the consumers of ``receivers`` (no longer subscribed), with
        what they had not acknowledged."""
        self._call(self._drop_groups(list(dict.fromkeys(receivers))), "deleting consumers")

    async def _drop_groups(self, receivers: list[str]) -> None:
        async def drop(receiver: str, p: int) -> None:
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await self._jsc().delete_consumer(self.stream, consumer_name(receiver, p))
            self._consumers.pop((receiver, p), None)

        await asyncio.gather(*(drop(r, p) for r in receivers for p in range(self.partitions)))

    # -- leases -------------------------------------------------------------

    def acquire(self, consumer: str, lease_seconds: float) -> list[int]:
        held: list[int] = self._call(self._acquire(consumer, lease_seconds), "acquiring partitions")
        return held

    async def _buckets(self, lease: float) -> tuple[KeyValue, KeyValue]:
        if self._bucket_ttl != lease:
            js = self._jsc()
            for bucket in (self.leases_bucket, self.consumers_bucket):
                try:
                    kv = await js.key_value(bucket)
                    status = await kv.status()
                    if not math.isclose(status.ttl or 0.0, lease, rel_tol=1e-3):
                        # The latest lease configured wins for every consumer.
                        info = await js.stream_info(f"KV_{bucket}")
                        info.config.max_age = lease
                        info.config.duplicate_window = min(lease, 120.0)
                        await js.update_stream(info.config)
                except nats.js.errors.BucketNotFoundError:
                    kv = await js.create_key_value(
                        KeyValueConfig(
                            bucket=bucket, ttl=lease, history=1, storage=StorageType.FILE
                        )
                    )
                self._kv[bucket] = kv
            self._bucket_ttl = lease
            self._lease = lease
        return self._kv[self.leases_bucket], self._kv[self.consumers_bucket]

    async def _live_count(self, consumer: str, live_kv: KeyValue) -> int:
        await live_kv.put(consumer_key(consumer), consumer.encode("utf-8"))
        try:
            return max(1, len(await live_kv.keys()))
        except nats.js.errors.NoKeysError:
            return 1

    async def _acquire(self, consumer: str, lease: float) -> list[int]:
        leases, live_kv = await self._buckets(lease)
        value = consumer.encode("utf-8")
        if consumer not in self._held:
            self._held[consumer] = await self._adopt(consumer, leases)
        held = self._held[consumer]
        share = math.ceil(self.partitions / await self._live_count(consumer, live_kv))

        async def renew(p: int, revision: int) -> tuple[int, int | None]:
            try:
                return p, await leases.update(f"p{p}", value, last=revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                return p, None

        for p, revision in await asyncio.gather(*(renew(p, r) for p, r in held.items())):
            if revision is None:
                del held[p]
            else:
                held[p] = revision
        if len(held) > share:
            for p in sorted(held)[share:]:
                await self._drop(leases, p, held.pop(p))
        elif len(held) < share:

            async def take(p: int) -> tuple[int, int | None]:
                try:
                    return p, await leases.create(f"p{p}", value)
                except nats.js.errors.KeyWrongLastSequenceError:
                    return p, None

            free = [p for p in range(self.partitions) if p not in held]
            taken = [
                (p, r) for p, r in await asyncio.gather(*(take(p) for p in free)) if r is not None
            ]
            need = share - len(held)
            for p, revision in taken[:need]:
                held[p] = revision
                self._taken[p] = time.monotonic()
                self._settled = {s for s in self._settled if s[1] != p}
            for p, revision in taken[need:]:
                await self._drop(leases, p, revision)
        return sorted(held)

    async def _adopt(self, consumer: str, leases: KeyValue) -> dict[int, int]:
        """Leases ``consumer`` holds already (a broker reopened under the same name)."""

        async def get(p: int) -> tuple[int, KeyValue.Entry | None]:
            try:
                return p, await leases.get(f"p{p}")
            except nats.js.errors.KeyNotFoundError:
                return p, None

        held = {}
        for p, entry in await asyncio.gather(*(get(p) for p in range(self.partitions))):
            if entry is not None and entry.value == consumer.encode("utf-8") and entry.revision:
                held[p] = entry.revision
        return held

    async def _drop(self, leases: KeyValue, partition: int, revision: int) -> None:
        with contextlib.suppress(nats.js.errors.KeyWrongLastSequenceError):
            await leases.delete(f"p{partition}", last=revision)
        self._taken.pop(partition, None)

    def release(self, consumer: str) -> None:
        self._call(self._release(consumer), "releasing partitions")

    async def _release(self, consumer: str) -> None:
        held = self._held.pop(consumer, {})
        if self._bucket_ttl is None:
            return
        leases, live_kv = self._kv[self.leases_bucket], self._kv[self.consumers_bucket]
        for p, revision in held.items():
            await self._drop(leases, p, revision)
        await live_kv.delete(consumer_key(consumer))

    # -- consuming ----------------------------------------------------------

    def fetch(
        self,
        receiver: str,
        partitions: c.Sequence[int],
        consumer: str,
        count: int,
        block_ms: int,
    ) -> list[Delivery]:
        """See :meth:`Broker.fetch`. An entry fetched and not acknowledged is
        fetched again once its ``ack_wait`` (the lease) has run out, before
        newer entries of its partition; until then a partition taken over
        from a dead consumer, or whose fetch or ack was lost with the
        connection, gives nothing."""
        parts = list(dict.fromkeys(partitions))
        for p in parts:
            if not 0 <= p < self.partitions:
                raise BrokerError(f"partition {p} is out of range 0..{self.partitions - 1}")
        if not parts or count < 1:
            if block_ms > 0:
                time.sleep(min(block_ms, MAX_BLOCK_MS) / 1000)
            return []
        found: list[Delivery] = self._call(
            self._fetch(receiver, parts, count, min(max(block_ms, 0), MAX_BLOCK_MS) / 1000),
            f"fetching for {receiver}",
        )
        return found

    async def _fetch(
        self, receiver: str, parts: list[int], count: int, block: float
    ) -> list[Delivery]:
        deadline = time.monotonic() + block
        await self._ensure_consumers([receiver], parts)
        while True:
            ready = await self._ready(receiver, parts)
            if ready:
                found = await self._pull_all(receiver, ready, count)
                if found:
                    return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            if not ready:
                await asyncio.sleep(min(remaining, 0.05))
                continue
            # Slices: redeliveries falling due ring no bell.
            if await self._wait_for_events(receiver, ready, min(remaining, 0.5)):
                found = await self._pull_all(receiver, ready, count)
                if found:
                    return found

    async def _ready(self, receiver: str, parts: list[int]) -> list[int]:
        """``parts`` less those where entries may be out with no one working
        on them (taken over from a dead consumer; a fetch or ack lost with the
        connection) until JetStream redelivers them: fetching there now would
        overtake them."""
        ready = []
        for p in parts:
            since = self._suspect.get((receiver, p))
            taken = self._taken.get(p)
            if taken is not None and (receiver, p) not in self._settled:
                since = taken if since is None else max(since, taken)
            if since is None:
                ready.append(p)
                continue
            ack_wait = self._consumers.get((receiver, p), self._lease)
            if time.monotonic() < since + ack_wait + TAKEOVER_MARGIN:
                info = await self._jsc().consumer_info(self.stream, consumer_name(receiver, p))
                if info.num_ack_pending > 0:
                    continue
            self._settled.add((receiver, p))
            self._suspect.pop((receiver, p), None)
            ready.append(p)
        return ready

    async def _wait_for_events(self, receiver: str, parts: list[int], timeout: float) -> bool:
        """Wait up to ``timeout`` for something published to ``parts``; True
        if something may be there."""
        nc = self._client()
        bell = asyncio.Event()

        async def ring(msg: Msg) -> None:
            bell.set()

        subs: list[Subscription] = [await nc.subscribe(self.subject(p), cb=ring) for p in parts]
        try:
            await nc.flush(timeout=int(PULL_TIMEOUT))
            # Published between the last pull and the subscriptions?
            info = await asyncio.gather(
                *(self._jsc().consumer_info(self.stream, consumer_name(receiver, p)) for p in parts)
            )
            if any(i.num_pending for i in info):
                return True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(bell.wait(), timeout)
            return bell.is_set()
        finally:
            for sub in subs:
                with contextlib.suppress(*ERRORS):
                    await sub.unsubscribe()

    async def _pull_all(self, receiver: str, parts: list[int], count: int) -> list[Delivery]:
        # ``count`` shared among the partitions (the first ones in turn get
        # the odd ones), then what is left to those that had more.
        n = len(parts)
        start = self._serial % n
        turn = parts[start:] + parts[:start]
        quota = {p: count // n + (1 if i < count % n else 0) for i, p in enumerate(turn)}
        asked = [p for p in parts if quota[p] > 0]
        outcomes = await asyncio.gather(
            *(self._pull(receiver, p, quota[p]) for p in asked), return_exceptions=True
        )
        found: dict[int, list[Msg]] = {p: [] for p in parts}
        failed: list[BaseException] = []
        for p, outcome in zip(asked, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failed.append(outcome)
                quota[p] = -1  # asks no more
            else:
                found[p] = outcome
        remaining = count - sum(len(m) for m in found.values())
        for p in parts:
            if remaining <= 0 or failed:
                break
            if len(found[p]) == quota[p]:
                try:
                    more = await self._pull(receiver, p, remaining)
                except (*ERRORS, BrokerError) as exc:
                    failed.append(exc)
                    break
                found[p].extend(more)
                remaining -= len(more)
        if failed and not any(found.values()):
            raise failed[0]
        deliveries = []
        for p in parts:
            for msg in found[p]:
                deliveries.append(
                    Delivery(
                        event=WireEvent.from_json(msg.data),
                        partition=p,
                        attempt=msg.metadata.num_delivered or 1,
                        handle=msg.reply,
                    )
                )
        return deliveries

    async def _pull(self, receiver: str, partition: int, batch: int) -> list[Msg]:
        """What the consumer has for us now, up to ``batch`` (a no-wait pull:
        nothing stays requested on the server afterwards)."""
        name = consumer_name(receiver, partition)
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:  # one pull in flight per consumer: messages name it, not the pull
            self._serial += 1
            token = str(self._serial)
            pull = _Pull(batch)
            self._pulls[token] = self._pulls[name] = pull
            try:
                await self._client().publish(
                    f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{name}",
                    json.dumps({"batch": batch, "no_wait": True}).encode(),
                    reply=f"{self._inbox}.{token}",
                )
                try:
                    await asyncio.wait_for(asyncio.shield(pull.done), PULL_TIMEOUT)
                except TimeoutError:
                    self._suspect[(receiver, partition)] = time.monotonic()
                    self._consumers.pop((receiver, partition), None)  # re-created next time
                    raise BrokerError(
                        f"{self._where}: no answer from the consumer of {receiver} on "
                        f"partition {partition}"
                    ) from None
                if pull.status == DISCONNECTED:
                    self._suspect[(receiver, partition)] = time.monotonic()
                    raise BrokerError(
                        f"{self._where}: fetching for {receiver} on partition {partition} "
                        "failed: disconnected"
                    )
                if pull.status not in (None, "404", "408"):
                    raise BrokerError(
                        f"{self._where}: fetching for {receiver} on partition {partition} "
                        f"failed: status {pull.status}"
                    )
                return pull.msgs
            finally:
                del self._pulls[token], self._pulls[name]

    async def _on_pulled(self, msg: Msg) -> None:
        # Entries come on their own subject with an ack subject naming their
        # consumer; status messages on the pull's reply subject.
        if msg.reply.startswith("$JS.ACK."):
            key = msg.metadata.consumer or ""
        else:
            key = msg.subject.rsplit(".", 1)[-1]
        pull = self._pulls.get(key)
        if pull is not None and not pull.done.done():
            pull.add(msg)
        elif msg.reply:
            # Delivered after its request was given up: hand it back at once.
            with contextlib.suppress(*ERRORS):
                await msg.nak()

    def ack(self, receiver: str, deliveries: c.Sequence[Delivery]) -> None:
        if deliveries:
            self._call(self._ack(receiver, deliveries), f"acknowledging for {receiver}")

    async def _ack(self, receiver: str, deliveries: c.Sequence[Delivery]) -> None:
        nc = self._client()
        try:
            for delivery in deliveries:
                await nc.publish(delivery.handle, b"+ACK")
            await nc.flush(timeout=int(PULL_TIMEOUT))
        except ERRORS:
            # Perhaps lost: they come again after ack_wait, and go first.
            for p in {d.partition for d in deliveries}:
                self._suspect[(receiver, p)] = time.monotonic()
            raise

    def backlog(self, receiver: str) -> int:
        total: int = self._call(self._backlog(receiver), "reading the backlog")
        return total

    async def _backlog(self, receiver: str) -> int:
        js = self._jsc()
        total = 0
        per_subject: dict[str, int] | None = None
        for p in range(self.partitions):
            try:
                info = await js.consumer_info(self.stream, consumer_name(receiver, p))
                total += info.num_pending + info.num_ack_pending
            except nats.js.errors.NotFoundError:
                if per_subject is None:
                    per_subject = await self._per_subject()
                total += per_subject.get(self.subject(p), 0)
        return total

    # -- housekeeping -------------------------------------------------------

    def trim(self) -> int:
        """Delete the entries every existing consumer has acknowledged; returns
        how many. Not called implicitly: a consumer created afterwards (a new
        receiver) no longer sees what was trimmed."""
        trimmed: int = self._call(self._trim(), "trimming the stream")
        return trimmed

    async def _trim(self) -> int:
        js = self._jsc()
        floors: dict[str, int] = {}
        for info in await js.consumers_info(self.stream):
            subject = info.config.filter_subject
            if subject is None or info.ack_floor is None:
                continue
            floor = (info.ack_floor.stream_seq or 0) + 1
            floors[subject] = min(floors.get(subject, floor), floor)
        if not floors:
            return 0
        before = await self._per_subject()
        for subject, floor in floors.items():
            if floor > 1:  # the server reads a filtered purge up to 0 or 1 as "everything"
                await js.purge_stream(self.stream, seq=floor, subject=subject)
        after = await self._per_subject()
        return sum(before.values()) - sum(after.values())

    async def _per_subject(self) -> dict[str, int]:
        info = await self._jsc().stream_info(
            self.stream, subjects_filter=f"{self.namespace}.events.*"
        )
        return dict(info.state.subjects or {})

    def delete_all(self) -> None:
        """Delete this namespace's stream (with its consumers) and KV buckets."""
        self._call(self._delete_all(), "deleting the namespace")

    async def _delete_all(self) -> None:
        js = self._jsc()
        for name in (self.stream, f"KV_{self.leases_bucket}", f"KV_{self.consumers_bucket}"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await js.delete_stream(name)
        self._consumers.clear()
        self._kv.clear()
        self._bucket_ttl = None
        self._held.clear()

    def close(self) -> None:
        if self._closed:
            return
        if self._nc is not None:
            with contextlib.suppress(BrokerError):
                self._call(self._close(), "closing")
        self._closed = True
        self._stop_loop()

    async def _close(self) -> None:
        self._closed = True  # no reconnect warnings from here on
        await self._client().close()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def _stop_loop(self) -> None:
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


__all__ = ["NatsJetStreamBroker", "consumer_name", "redact"]
