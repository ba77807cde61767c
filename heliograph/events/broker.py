"""The broker interface: how committed events travel between machines.

The outbox in the portal's database is the source of truth. With a broker
configured (``heliograph.events.broker = redis://...`` or ``nats://...``), the
relay publishes committed outbox rows to the broker and workers on any machine
consume them. A broker is a *partitioned, durable log with one consumer group
per receiver*:

- an event goes to partition :func:`partition_of` ``(event.key, partitions)``,
  so events about one object stay in one partition, in publish order;
- every background receiver (its dotted path) reads every partition through a
  consumer group of its own, so one receiver's failures or backlog never
  touch another's;
- a partition is worked by one worker at a time: :meth:`Broker.acquire` leases
  partitions to a consumer (renewed on each call) and shares them among live
  consumers; a consumer that dies loses its leases when they expire and its
  unacknowledged entries are fetched again, with their attempt number raised,
  by the next holder of the partition;
- an entry is acknowledged once its delivery is settled (done, or handed to
  the database for a retry), never before: a worker killed mid-delivery loses
  nothing.

Two implementations: :mod:`heliograph.events.redis_streams` (Redis Streams:
``XADD``, consumer groups, ``XREADGROUP``/``XACK``, ``XAUTOCLAIM``) and
:mod:`heliograph.events.nats_jetstream` (JetStream: durable pull consumers,
explicit ack, ``Nats-Msg-Id`` de-duplication).
"""

from __future__ import annotations

import abc
import collections.abc as c
import json
import typing as t
import zlib
from dataclasses import dataclass, field

JSON = t.Any


def partition_of(key: str, partitions: int) -> int:
    """The partition of ordering key ``key``: stable across processes and machines."""
    return zlib.crc32(key.encode("utf-8")) % partitions


@dataclass(frozen=True)
class WireEvent:
    """One committed event as it crosses a process.

    ``event_id`` is stable across redeliveries (the receiver's idempotency
    key); ``signal`` the full name (``ckan.action_succeeded``); ``sender`` and
    ``kwargs`` the signal's wire form (JSON); ``key`` the ordering key (the
    object the event is about); ``sent_at`` Unix time of the send;
    ``receivers`` the dotted paths of the background receivers it is for.
    """

    event_id: str
    signal: str
    sender: JSON
    kwargs: dict[str, JSON]
    key: str
    sent_at: float
    receivers: tuple[str, ...] = ()
    id: int = 0
    """The outbox row id (commit order within the portal's database)."""

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "event_id": self.event_id,
                "signal": self.signal,
                "sender": self.sender,
                "kwargs": self.kwargs,
                "key": self.key,
                "sent_at": self.sent_at,
                "receivers": list(self.receivers),
                "id": self.id,
            },
            separators=(",", ":"),
        ).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes | str) -> WireEvent:
        raw = json.loads(data)
        return cls(
            event_id=raw["event_id"],
            signal=raw["signal"],
            sender=raw["sender"],
            kwargs=raw["kwargs"],
            key=raw["key"],
            sent_at=raw["sent_at"],
            receivers=tuple(raw.get("receivers", ())),
            id=raw.get("id", 0),
        )


@dataclass(frozen=True)
class Delivery:
    """An entry fetched for one receiver: the event, which attempt this is
    (1 the first time, +1 each time it is fetched again after a consumer died
    or did not acknowledge it), and what :meth:`Broker.ack` needs."""

    event: WireEvent
    partition: int
    attempt: int
    handle: t.Any = field(compare=False, default=None)


class BrokerError(RuntimeError):
    """The broker is unreachable or refused an operation (the message names it)."""


class Broker(abc.ABC):
    """A partitioned, durable event log with one consumer group per receiver."""

    url: str
    partitions: int

    @abc.abstractmethod
    def publish(self, events: c.Sequence[WireEvent]) -> None:
        """Append ``events`` to their partitions, in the given order within
        each partition; durable (as far as the broker is configured to be)
        when this returns. Publishing an event again (same ``event_id``) may
        deliver it again: receivers are idempotent by ``event_id``; a broker
        that can de-duplicate does."""

    @abc.abstractmethod
    def ensure_groups(self, receivers: c.Iterable[str]) -> None:
        """Create the consumer groups of ``receivers`` where missing, reading
        from the start of what the partitions hold (an event published before
        a receiver's group existed is still delivered to it)."""

    @abc.abstractmethod
    def acquire(self, consumer: str, lease_seconds: float) -> list[int]:
        """Renew ``consumer``'s partition leases and take free or expired ones,
        up to a fair share among the live consumers; returns the partitions it
        holds now, sorted. Called before every batch."""

    @abc.abstractmethod
    def release(self, consumer: str) -> None:
        """Give up ``consumer``'s leases (clean shutdown)."""

    @abc.abstractmethod
    def fetch(
        self,
        receiver: str,
        partitions: c.Sequence[int],
        consumer: str,
        count: int,
        block_ms: int,
    ) -> list[Delivery]:
        """Up to ``count`` entries of ``partitions`` for ``receiver``'s group, in
        partition order within each partition: first entries fetched earlier by
        any consumer and never acknowledged (their ``attempt`` raised), then new
        ones. Waits up to ``block_ms`` for new entries when there are none."""

    @abc.abstractmethod
    def ack(self, receiver: str, deliveries: c.Sequence[Delivery]) -> None:
        """Settle ``deliveries`` for ``receiver``: they are never fetched again."""

    @abc.abstractmethod
    def backlog(self, receiver: str) -> int:
        """Entries not yet acknowledged by ``receiver``'s group (for operators)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections (leases are kept until :meth:`release` or expiry)."""


def open_broker(url: str, *, partitions: int = 8, namespace: str = "heliograph") -> Broker:
    """The broker for ``url`` (``redis://``, ``rediss://`` or ``nats://``).

    ``namespace`` prefixes every stream, group and lease name, so test runs and
    portals sharing one server stay apart. Raises :class:`BrokerError` for an
    unknown scheme or a missing client library (naming the extra to install).
    """
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss", "unix"):
        try:
            from heliograph.events.redis_streams import RedisStreamsBroker
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BrokerError(
                f"heliograph.events.broker = {url!r} needs the 'redis' package: "
                f"pip install 'heliograph[redis]' ({exc})"
            ) from exc
        return RedisStreamsBroker(url, partitions=partitions, namespace=namespace)
    if scheme in ("nats", "tls"):
        try:
            from heliograph.events.nats_jetstream import NatsJetStreamBroker
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BrokerError(
                f"heliograph.events.broker = {url!r} needs the 'nats-py' package: "
                f"pip install 'heliograph[nats]' ({exc})"
            ) from exc
        return NatsJetStreamBroker(url, partitions=partitions, namespace=namespace)
    raise BrokerError(
        f"heliograph.events.broker: unknown broker URL {url!r}; "
        "expected redis://host:port/db or nats://host:port"
    )
