"""Running delivery in a process: worker threads, the consumer, the relay.

``heliograph serve`` starts what its settings ask for beside the web server
(on SQLite a worker by default, so background receivers work with nothing
else started); ``heliograph worker`` and ``heliograph relay`` run them alone.
"""

from __future__ import annotations

import logging
import threading
import typing as t
from dataclasses import dataclass, field

import sqlalchemy as sa

from heliograph.events import outbox
from heliograph.events.broker import Broker, open_broker
from heliograph.events.consumer import BrokerConsumer
from heliograph.events.relay import Relay
from heliograph.events.settings import EventSettings, settings
from heliograph.events.worker import Worker, worker_name

__all__ = ["Runtime", "serve_plan"]

log = logging.getLogger(__name__)


def serve_plan(engine: sa.Engine, config: EventSettings | None = None) -> tuple[bool, bool]:
    """Whether ``heliograph serve`` runs ``(a worker, the relay)`` in its process."""
    config = config or settings
    auto_worker = engine.dialect.name == "sqlite"
    worker = config.worker == "true" or (config.worker == "auto" and auto_worker)
    relay = config.relay == "true" or (config.relay == "auto" and bool(config.broker))
    return worker, relay and bool(config.broker)


@dataclass
class Runtime:
    """Delivery threads of one process; :meth:`start`, then :meth:`stop`."""

    engine: sa.Engine
    worker: bool = True
    relay: bool = False
    threads: int = 1
    config: EventSettings = field(default_factory=lambda: settings)
    stop_event: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _brokers: list[Broker] = field(default_factory=list)

    def _broker(self) -> Broker:
        broker = open_broker(
            self.config.broker,
            partitions=self.config.partitions,
            namespace=self.config.namespace,
        )
        self._brokers.append(broker)
        return broker

    def start(self) -> Runtime:
        name = worker_name()
        targets: list[tuple[str, t.Callable[[threading.Event], None]]] = []
        if self.worker:
            for n in range(self.threads):
                targets.append(
                    (f"heliograph-worker-{n}", Worker(self.engine, self.config, f"{name}-{n}").run)
                )
                if self.config.broker:
                    consumer = BrokerConsumer(
                        self.engine, self._broker(), self.config, name=f"{name}-c{n}"
                    )
                    targets.append((f"heliograph-consumer-{n}", consumer.run))
        if self.relay and self.config.broker:
            targets.append(
                ("heliograph-relay", Relay(self.engine, self._broker(), self.config).run)
            )
        for thread_name, target in targets:
            thread = threading.Thread(
                target=target, args=(self.stop_event,), name=thread_name, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def describe(self) -> str:
        where = (
            f"broker {self.config.broker_shown}" if self.config.broker else "the portal's database"
        )
        parts = []
        if self.worker:
            parts.append(f"{self.threads} delivery worker(s)")
        if self.relay and self.config.broker:
            parts.append("the relay")
        return f"{' and '.join(parts) or 'nothing'} on {where}"

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        outbox.notify()
        for thread in self._threads:
            thread.join(timeout)
        for broker in self._brokers:
            try:
                broker.close()
            except Exception:
                log.debug("closing the broker failed", exc_info=True)
        self._threads.clear()
        self._brokers.clear()
