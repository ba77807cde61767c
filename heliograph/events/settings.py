"""The delivery settings, read from the portal's configuration."""

from __future__ import annotations

import collections.abc as c
import typing as t
import urllib.parse
from dataclasses import dataclass, fields


@dataclass
class EventSettings:
    """How background events are delivered (``heliograph.events.*`` keys)."""

    broker: str = ""
    """Empty: embedded (the outbox in the portal's database is the queue);
    ``redis://...`` or ``nats://...``: the relay publishes to that broker."""
    partitions: int = 8
    namespace: str = "heliograph"
    lease_seconds: float = 180.0
    """How long a worker holds a delivery before another may take it over
    (CKAN's ``ckan.jobs.timeout`` default)."""
    max_attempts: int = 8
    retry_base_seconds: float = 10.0
    retry_max_seconds: float = 3600.0
    poll_seconds: float = 0.5
    gather_seconds: float = 0.05
    """How long a woken worker lets commits gather before it claims: fewer,
    larger batches (one write each) at that much extra latency."""
    batch: int = 100
    worker: str = "auto"
    """Whether ``heliograph serve`` runs a delivery worker: ``auto`` (on SQLite,
    or with a broker), ``true`` or ``false``."""
    relay: str = "auto"
    """Whether ``heliograph serve`` runs the relay: ``auto`` (with a broker),
    ``true`` or ``false``."""

    @property
    def broker_shown(self) -> str:
        """:attr:`broker` with any password replaced by ``***``, for pages and logs."""
        return shown_url(self.broker)

    @classmethod
    def from_config(cls, config: c.Mapping[str, t.Any]) -> EventSettings:
        values: dict[str, t.Any] = {}
        for item in fields(cls):
            key = f"heliograph.events.{item.name}"
            if key in config and config[key] is not None:
                values[item.name] = config[key]
        return cls(**values)

    def backoff(self, attempt: int, jitter: float) -> float:
        """Seconds before attempt ``attempt + 1``: exponential from
        ``retry_base_seconds``, capped at ``retry_max_seconds``, with
        ``jitter`` in [0, 1) taking up to half of it off (equal jitter)."""
        delay = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, attempt - 1))
        return float(delay * (1.0 - jitter / 2.0))


def shown_url(url: str) -> str:
    """``url`` with the password of its user info replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


settings = EventSettings()
"""The settings in force; :func:`configure` replaces their values in place."""


def configure(config: c.Mapping[str, t.Any]) -> EventSettings:
    """Read ``heliograph.events.*`` from ``config`` into :data:`settings`."""
    fresh = EventSettings.from_config(config)
    for item in fields(EventSettings):
        setattr(settings, item.name, getattr(fresh, item.name))
    return settings
