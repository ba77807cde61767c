"""The relay: moves committed outbox rows to the broker, in commit order.

It reads the rows not yet relayed (oldest first, in batches), publishes them
(``XADD`` in a pipeline on Redis, ``Nats-Msg-Id`` on JetStream), and deletes
them once the broker has them, in the transaction that reads the next batch.
A relay killed between the two leaves them to be published again: receivers
see the same ``event_id`` twice at worst (JetStream drops the copy within its
duplicate window), never zero times.
Run one relay per database (in ``heliograph serve`` or ``heliograph relay``);
a second one only adds duplicates.
"""

from __future__ import annotations

import json
import logging
import threading
import typing as t

import sqlalchemy as sa

from heliograph import model
from heliograph.events import outbox
from heliograph.events.broker import Broker, WireEvent
from heliograph.events.settings import EventSettings, settings, shown_url

__all__ = ["Relay"]

log = logging.getLogger(__name__)

_outbox = t.cast(sa.Table, model.EventOutbox.__table__)


class Relay:
    """Publishes the outbox of ``engine`` to ``broker``."""

    def __init__(
        self, engine: sa.Engine, broker: Broker, config: EventSettings | None = None
    ) -> None:
        self.engine = engine
        self.broker = broker
        self.settings = config or settings
        self._groups: set[str] = set()
        self._published: list[int] = []
        """Outbox ids of the last batch published, deleted with the next read."""
        self.relayed = 0

    def run_once(self, limit: int = 1000) -> int:
        """Publish one batch; returns how many events were relayed.

        The rows of the batch before are deleted in the transaction that reads
        this one's: one transaction a batch. Until then they stay in the outbox
        and are published again by a relay that starts after this one died
        (duplicates, never a loss)."""
        rows = self._delete_published_and_read(limit)
        if not rows:
            return 0
        batch = [
            WireEvent(
                event_id=row.event_id,
                signal=row.signal,
                sender=json.loads(row.sender),
                kwargs=json.loads(row.payload),
                key=row.key,
                sent_at=row.sent_at,
                receivers=tuple(json.loads(row.receivers)),
                id=row.id,
            )
            for row in rows
        ]
        wanted = {path for event in batch for path in event.receivers} - self._groups
        if wanted:
            self.broker.ensure_groups(sorted(wanted))
            self._groups |= wanted
        self.broker.publish(batch)
        self._published = [row.id for row in rows]
        self.relayed += len(rows)
        return len(rows)

    def flush(self) -> None:
        """Delete the rows of the last batch published (what the next
        :meth:`run_once` would do first)."""
        self._delete_published_and_read(0)

    def _delete_published_and_read(self, limit: int) -> list[t.Any]:
        """In one transaction: delete the last batch published, then read up
        to ``limit`` rows not yet relayed, oldest first. If it fails, the
        batch is deleted next time."""
        o = _outbox.c
        published, self._published = self._published, []
        try:
            with self.engine.begin() as connection:
                if published:  # gone from what the select below sees, too
                    connection.execute(_outbox.delete().where(o.id.in_(published)))
                if not limit:
                    return []
                return list(
                    connection.execute(
                        sa.select(_outbox).where(o.relayed.is_(False)).order_by(o.id).limit(limit)
                    ).all()
                )
        except BaseException:
            self._published = published
            raise

    def drain(self) -> int:
        total = 0
        while count := self.run_once():
            total += count
        return total

    def run(self, stop: threading.Event) -> None:
        """Relay until ``stop`` is set; broker or database errors are logged and retried."""
        seen = 0
        while not stop.is_set():
            try:
                count = self.run_once()
            except Exception:
                log.exception(
                    "relay: publishing to %s failed; retrying", shown_url(self.broker.url)
                )
                stop.wait(1.0)
                continue
            if not count:
                seen = outbox.wait_for_events(seen, min(self.settings.poll_seconds, 0.05))
        try:
            self.flush()
        except Exception:  # they are published again by the next relay: duplicates only
            log.warning("relay: deleting the last batch from the outbox failed", exc_info=True)
