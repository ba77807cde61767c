"""Delivery beyond the process: the event outbox, workers, the relay and brokers.

A subscription with ``"background": True`` is delivered here: its events are
written to the outbox in the sender's transaction (:mod:`.outbox`), then
delivered after the commit by a worker (:mod:`.worker`), at least once, in
order per object, with retries; with a broker configured, the relay
(:mod:`.relay`) publishes them to Redis Streams or NATS JetStream and workers
on any machine consume them.
"""

from __future__ import annotations

from heliograph.events.outbox import OutboxError, notify
from heliograph.events.settings import EventSettings, configure, settings
from heliograph.events.worker import Event, RetryLater, Worker, current_event

__all__ = [
    "Event",
    "EventSettings",
    "OutboxError",
    "RetryLater",
    "Worker",
    "configure",
    "current_event",
    "notify",
    "settings",
]
