"""The broker side of a worker: consumes partitions, calls receivers, hands
failures to the database.

A consumer leases a fair share of the partitions (:meth:`Broker.acquire`),
reads each background receiver's consumer group on them and calls the
receiver. A success is acknowledged; a failure is written to the portal's
database as a delivery to retry (the same rows, backoff and dead state as the
embedded path, worked by :class:`~heliograph.events.worker.Worker`) and then
acknowledged. While a receiver has a delivery of an object waiting there,
that object's later events join it in the database, behind it: order per
object holds across the two paths. An entry is acknowledged only after it is
settled, so a consumer killed mid-delivery loses nothing: the next holder of
the partition fetches the entry again, with its attempt raised.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import typing as t

import sqlalchemy as sa

from heliograph import model
from heliograph.events.broker import Broker, Delivery
from heliograph.events.settings import EventSettings, settings, shown_url
from heliograph.events.worker import Event, Failure, Worker, worker_name
from heliograph.plugins import background

__all__ = ["BrokerConsumer"]

log = logging.getLogger(__name__)

_outbox = t.cast(sa.Table, model.EventOutbox.__table__)
_delivery = t.cast(sa.Table, model.EventDelivery.__table__)


class BrokerConsumer:
    """Consumes ``broker`` for the background receivers of the loaded plugins."""

    def __init__(
        self,
        engine: sa.Engine,
        broker: Broker,
        config: EventSettings | None = None,
        name: str | None = None,
        receivers: t.Sequence[str] | None = None,
    ) -> None:
        self.engine = engine
        self.broker = broker
        self.settings = config or settings
        self.name = name or worker_name()
        self._receivers = list(receivers) if receivers is not None else None
        self._worker = Worker(engine, self.settings, name=self.name)
        self._partitions: list[int] = []
        self._held: set[tuple[str, str]] = set()
        self._groups: set[str] = set()
        self.idle_rounds = 0

    def receivers(self) -> list[str]:
        if self._receivers is not None:
            return self._receivers
        return sorted({sub.path for sub in background.subscriptions()})

    def run_once(self, block_ms: int = 0) -> int:
        """Consume one round over every receiver; returns the entries settled."""
        receivers = self.receivers()
        if not receivers:
            return 0
        wanted = set(receivers) - self._groups
        if wanted:
            self.broker.ensure_groups(sorted(wanted))
            self._groups |= wanted
        partitions = self.broker.acquire(self.name, self.settings.lease_seconds)
        if partitions != self._partitions:
            self._partitions = partitions
            self._load_held()
        if not partitions:
            return 0
        total = 0
        for index, receiver in enumerate(receivers):
            fetched = self.broker.fetch(
                receiver,
                partitions,
                self.name,
                self.settings.batch,
                block_ms if index == 0 else 0,
            )
            if not fetched:
                continue
            self.broker.ack(receiver, [self._settle(receiver, item) for item in fetched])
            total += len(fetched)
        return total

    def _settle(self, receiver: str, item: Delivery) -> Delivery:
        event = item.event
        if event.receivers and receiver not in event.receivers:
            return item  # the event is not for this receiver
        if (receiver, event.key) in self._held and self._still_held(receiver, event.key):
            self._to_database(receiver, item, failure=None)
            return item
        failure = self._worker.call(
            "signal",
            Event(
                event_id=event.event_id,
                signal=event.signal,
                sender=event.sender,
                key=event.key,
                sent_at=event.sent_at,
                attempt=item.attempt,
                receiver=receiver,
            ),
            event.kwargs,
        )
        if failure is not None:
            self._to_database(receiver, item, failure=failure)
        return item

    def _still_held(self, receiver: str, key: str) -> bool:
        d = _delivery.c
        with self.engine.connect() as connection:
            found = connection.execute(
                sa.select(sa.literal(1))
                .where(d.receiver == receiver, d.lane == key, d.state != "dead")
                .limit(1)
            ).first()
        if found is None:
            self._held.discard((receiver, key))
            return False
        return True

    def _load_held(self) -> None:
        d = _delivery.c
        with self.engine.connect() as connection:
            self._held = {
                (row.receiver, row.lane)
                for row in connection.execute(
                    sa.select(d.receiver, d.lane)
                    .where(d.state != "dead", d.kind == "signal")
                    .distinct()
                )
            }

    def _to_database(self, receiver: str, item: Delivery, failure: Failure | None) -> None:
        """Keep ``item`` for ``receiver`` in the database: to retry after
        ``failure``, or (none) to wait behind the object's earlier delivery."""
        event = item.event
        now = time.time()
        attempts = item.attempt if failure is not None else 0
        delay = self._worker._next_attempt(attempts, failure) if failure is not None else 0.0
        dead = delay is None
        owner = next((s.owner for s in background.subscriptions() if s.path == receiver), None)
        o = _outbox.c
        with self.engine.begin() as connection:
            event_pk = connection.execute(
                sa.select(o.id).where(o.event_id == event.event_id)
            ).scalar()
            if event_pk is None:
                inserted = connection.execute(
                    _outbox.insert().values(
                        event_id=event.event_id,
                        signal=event.signal,
                        sender=json.dumps(event.sender),
                        key=event.key,
                        payload=json.dumps(event.kwargs),
                        receivers=json.dumps(list(event.receivers)),
                        sent_at=event.sent_at,
                        relayed=True,
                    )
                ).inserted_primary_key
                assert inserted is not None
                event_pk = inserted[0]
            exists = connection.execute(
                sa.select(_delivery.c.id).where(
                    _delivery.c.event_pk == event_pk, _delivery.c.receiver == receiver
                )
            ).first()
            if exists is None:
                connection.execute(
                    _delivery.insert().values(
                        event_pk=event_pk,
                        receiver=receiver,
                        owner=owner,
                        lane=event.key,
                        kind="signal",
                        queue="default",
                        state="dead" if dead else "pending",
                        attempts=attempts,
                        next_attempt_at=now + (delay or 0.0),
                        last_error=failure.error if failure is not None else None,
                        created=now,
                        updated=now,
                    )
                )
        self._held.add((receiver, event.key))

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, then give up the leases."""
        try:
            while not stop.is_set():
                try:
                    count = self.run_once(block_ms=int(self.settings.poll_seconds * 1000))
                except Exception:
                    log.exception(
                        "consumer %s: the broker %s failed; retrying",
                        self.name,
                        shown_url(self.broker.url),
                    )
                    stop.wait(1.0)
                    continue
                if not count and not self._partitions:
                    stop.wait(min(1.0, self.settings.poll_seconds))
        finally:
            try:
                self.broker.release(self.name)
            except Exception:
                log.debug("releasing the leases failed", exc_info=True)
