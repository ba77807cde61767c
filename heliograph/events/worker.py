"""The delivery worker: claims deliveries with a lease, calls receivers, retries.

A worker claims up to ``batch`` deliveries at a time in one transaction
(PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so several workers share the work;
SQLite: one statement under the write lock). Within one ``(receiver, lane)``
it claims the oldest open delivery and those after it that are due too, and
delivers them one after the other: deliveries about one object reach each
receiver in order, one at a time, while unrelated objects go in parallel,
and a burst about one object costs one claim, not one per event. A claim is
a lease (``lease_seconds``): a worker that dies mid-delivery loses nothing,
the delivery is claimed again when the lease runs out, with the same event id
and the attempt number raised.

A receiver that raises is retried with exponential backoff and jitter, up to
``max_attempts``; then the delivery is dead, kept with its last error until
retried or discarded by hand. Only that receiver's lane waits meanwhile: the
lane's later deliveries of the same batch go back unattempted.
"""

from __future__ import annotations

import collections.abc as c
import contextlib
import contextvars
import datetime as dt
import json
import logging
import os
import random
import socket
import threading
import time
import traceback
import typing as t
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from heliograph import model
from heliograph.events import outbox
from heliograph.events.settings import EventSettings, settings
from heliograph.plugins.background import resolve

__all__ = ["Event", "Failure", "RetryLater", "Worker", "current_event"]

log = logging.getLogger(__name__)

_outbox = t.cast(sa.Table, model.EventOutbox.__table__)
_delivery = t.cast(sa.Table, model.EventDelivery.__table__)


@dataclass(frozen=True)
class Event:
    """The event a background receiver (or job) is being called for.

    ``event_id`` is stable across redeliveries: the receiver's idempotency key.
    """

    event_id: str
    signal: str
    """The signal's full name, e.g. ``ckan.action_succeeded`` (``heliograph.job`` for jobs)."""
    sender: t.Any
    key: str
    """The ordering key: the object the event is about."""
    sent_at: float
    """Unix time of the send."""
    attempt: int
    """1 for the first delivery, then 2, 3, ... (retries and take-overs)."""
    receiver: str

    @property
    def sent(self) -> dt.datetime:
        """:attr:`sent_at` as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.sent_at, dt.UTC)


_current: contextvars.ContextVar[Event | None] = contextvars.ContextVar(
    "heliograph_current_event", default=None
)


def current_event() -> Event | None:
    """The event being delivered, inside a background receiver or job; else None."""
    return _current.get()


class RetryLater(Exception):
    """Raised by a receiver or job to be retried no sooner than ``seconds``
    from now (a server's ``Retry-After``); counts as a failed attempt."""

    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"retry in {seconds:g} s")
        self.retry_after = float(seconds)


@dataclass(frozen=True)
class Failure:
    """Why a delivery failed, and what it asks of the retry."""

    error: str
    retry_after: float | None = None
    schedule: tuple[float, ...] | None = None
    """The job's own retry delays, replacing the default backoff."""


@dataclass
class _Claimed:
    id: int
    event_pk: int
    receiver: str
    kind: str
    attempts: int
    lane: str


_Outcome = tuple[list[int], list[tuple[_Claimed, Failure]], list[int]]
"""A delivered batch not yet settled: done, failed, released (not attempted)."""


# -- the statements (built once; their compiled forms are cached) ----------------------

_NOW = sa.bindparam("now", type_=sa.Float)


def _due(table: sa.FromClause, by_id: bool = False) -> sa.ColumnElement[bool]:
    """Pending and due, or running past its lease (its worker is taken for dead).

    ``by_id``: for SQLite, with ``state`` behind a unary ``+`` (SQLite's way
    to keep a term off an index), so the claim reads the table in ``id``
    order and stops at its limit, instead of sorting every due delivery and
    checking each one's lane.
    """
    state: sa.ColumnElement[str] = table.c.state
    if by_id:
        state = UnaryExpression(state, operator=operators.custom_op("+"), type_=state.type)
    return sa.or_(
        sa.and_(state == "pending", table.c.next_attempt_at <= _NOW),
        sa.and_(state == "running", sa.func.coalesce(table.c.lease_until, _NOW) < _NOW),
    )


def _waiting(table: sa.FromClause) -> sa.ColumnElement[bool]:
    """Open but not due: leased to a live worker, or pending a later retry
    (the states are pending, running and dead)."""
    return sa.or_(
        sa.and_(table.c.state == "pending", table.c.next_attempt_at > _NOW),
        sa.and_(table.c.state == "running", sa.func.coalesce(table.c.lease_until, _NOW) >= _NOW),
    )


_BLOCKERS = (
    sa.select(_delivery.c.receiver, _delivery.c.lane, sa.func.min(_delivery.c.id).label("first"))
    .where(_waiting(_delivery))
    .group_by(_delivery.c.receiver, _delivery.c.lane)
    .subquery("blockers")
)
"""Per ``(receiver, lane)``, its first delivery that is open but not due:
nothing after it may be claimed. Few rows (what is running or retrying),
found once per claim, whatever the query plan."""


def _due_in_order(by_id: bool = False) -> sa.Select[t.Any]:
    """The oldest due deliveries with nothing waiting before them in their
    lane: with ``ORDER BY id`` and a limit, a lane's deliveries come as a prefix."""
    d, blockers = _delivery, _BLOCKERS
    return (
        sa.select(d.c.id, d.c.receiver, d.c.lane)
        .select_from(
            d.outerjoin(
                blockers, sa.and_(blockers.c.receiver == d.c.receiver, blockers.c.lane == d.c.lane)
            )
        )
        .where(_due(d, by_id), sa.or_(blockers.c.first.is_(None), d.c.id < blockers.c.first))
        .order_by(d.c.id)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


_CLAIMING = {
    "state": "running",
    "attempts": _delivery.c.attempts + 1,
    "lease_until": sa.bindparam("lease_end", type_=sa.Float),
    "leased_by": sa.bindparam("worker", type_=sa.String),
    "updated": _NOW,
}
_RETURNED = (
    _delivery.c.id,
    _delivery.c.event_pk,
    _delivery.c.receiver,
    _delivery.c.kind,
    _delivery.c.attempts,
    _delivery.c.lane,
)
_CLAIM = (
    _delivery.update()
    .where(
        _delivery.c.id.in_(
            _due_in_order(by_id=True).with_only_columns(_delivery.c.id).scalar_subquery()
        )
    )
    .values(_CLAIMING)
    .returning(*_RETURNED)
)
_CANDIDATES = _due_in_order().with_for_update(skip_locked=True, of=_delivery)
_CLAIM_IDS = (
    _delivery.update()
    .where(_delivery.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(_CLAIMING)
    .returning(*_RETURNED)
)
_OPEN_IN_LANES = (
    sa.select(_delivery.c.id, _delivery.c.receiver, _delivery.c.lane)
    .where(
        _delivery.c.receiver.in_(sa.bindparam("receivers", expanding=True)),
        _delivery.c.lane.in_(sa.bindparam("lanes", expanding=True)),
        _delivery.c.id <= sa.bindparam("top", type_=sa.BigInteger),
        _delivery.c.state != "dead",
    )
    .order_by(_delivery.c.id)
)
_EVENTS = sa.select(_outbox).where(_outbox.c.id.in_(sa.bindparam("ids", expanding=True)))
_DELETE_DONE = _delivery.delete().where(
    _delivery.c.id.in_(sa.bindparam("ids", expanding=True)),
    _delivery.c.leased_by == sa.bindparam("worker", type_=sa.String),
)
_RELEASE = (
    _delivery.update()
    .where(
        _delivery.c.id.in_(sa.bindparam("ids", expanding=True)),
        _delivery.c.leased_by == sa.bindparam("worker", type_=sa.String),
    )
    .values(
        state="pending",
        attempts=_delivery.c.attempts - 1,
        lease_until=None,
        leased_by=None,
        updated=_NOW,
    )
)


def _whole_prefixes(connection: sa.Connection, candidates: c.Sequence[t.Any]) -> list[int]:
    """Of ``candidates`` (locked with ``SKIP LOCKED``), the ids that make up
    the start of their lane: a lane's first open delivery and those after it
    up to the first that another worker holds.

    Skipping rows another worker is claiming can leave a later delivery of
    the same lane among the candidates, or a gap inside them; those are not
    claimed here, so a lane is never delivered out of order.
    """
    if not candidates:
        return []
    ours = {row.id for row in candidates}
    lanes = {(row.receiver, row.lane) for row in candidates}
    values = {
        "receivers": sorted({receiver for receiver, _lane in lanes}),
        "lanes": sorted({lane for _receiver, lane in lanes}),
        "top": max(ours),
    }
    kept: list[int] = []
    stopped: set[tuple[str, str]] = set()
    for row in connection.execute(_OPEN_IN_LANES, values):
        lane = (row.receiver, row.lane)
        if lane not in lanes or lane in stopped:
            continue
        if row.id in ours:
            kept.append(row.id)
        else:
            stopped.add(lane)
    return kept


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """Delivers the database's pending deliveries.

    ``run_once()`` claims and delivers one batch; ``drain()`` repeats until
    nothing is due; ``run(stop)`` loops until ``stop`` is set, woken by commits
    in this process (and, on PostgreSQL, by ``NOTIFY`` from other processes).
    """

    def __init__(
        self,
        engine: sa.Engine | None = None,
        config: EventSettings | None = None,
        name: str | None = None,
    ) -> None:
        self.engine = engine if engine is not None else t.cast(sa.Engine, model.Session.get_bind())
        self.settings = config or settings
        self.name = name or worker_name()
        self._receivers: dict[str, c.Callable[..., t.Any]] = {}
        self._postgres = self.engine.dialect.name == "postgresql"
        self._last_prune = 0.0
        self._unsettled: _Outcome = ([], [], [])
        self._more_due = False
        """Whether the last batch left deliveries due now (it was full, or gave some back late)."""
        self.delivered = 0
        self.failed = 0

    # -- claiming ---------------------------------------------------------------

    def _claim(
        self,
        limit: int,
        done: c.Sequence[int] = (),
        failed: c.Sequence[tuple[_Claimed, Failure]] = (),
        released: c.Sequence[int] = (),
    ) -> list[_Claimed]:
        """Settle the previous batch (``done``, ``failed``, and ``released``:
        claimed but not attempted) and claim the next, in one transaction: one
        write a batch, not two."""
        return self._claim_events(limit, done, failed, released)[0]

    def _claim_events(
        self,
        limit: int,
        done: c.Sequence[int] = (),
        failed: c.Sequence[tuple[_Claimed, Failure]] = (),
        released: c.Sequence[int] = (),
    ) -> tuple[list[_Claimed], dict[int, t.Any]]:
        """:meth:`_claim`, and the claimed deliveries' outbox rows by id."""
        now = time.time()
        with self._transaction() as connection:
            if done or failed or released:
                self._settle_in(connection, done, failed, released, now)
            if not limit:
                return [], {}
            lease_end = now + self.settings.lease_seconds
            claiming = {"now": now, "lease_end": lease_end, "worker": self.name}
            if self._postgres:
                candidates = connection.execute(_CANDIDATES, {"now": now, "limit": limit}).all()
                ids = _whole_prefixes(connection, candidates)
                rows = connection.execute(_CLAIM_IDS, {**claiming, "ids": ids}).all() if ids else []
            else:  # one statement under SQLite's write lock: no other claim runs meanwhile
                rows = connection.execute(_CLAIM, {**claiming, "limit": limit}).all()
            claimed = sorted((_Claimed(*row) for row in rows), key=lambda item: item.id)
            if not claimed:
                return [], {}
            events = {
                row.id: row
                for row in connection.execute(
                    _EVENTS, {"ids": list({item.event_pk for item in claimed})}
                )
            }
        return claimed, events

    @contextlib.contextmanager
    def _transaction(self) -> c.Iterator[sa.Connection]:
        """A transaction of the worker's own. On SQLite it commits without
        waiting for the disk (``synchronous=NORMAL`` in WAL mode): a claim or
        settlement that a power cut takes back is only delivered again (the
        event itself was committed, synced, by its sender), and a commit no
        longer holds the write lock while the disk syncs."""
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as connection:
                yield connection
            return
        with self.engine.connect() as connection:
            driver = t.cast(t.Any, connection.connection.driver_connection)
            (before,) = driver.execute("PRAGMA synchronous").fetchone()
            try:
                driver.execute("PRAGMA synchronous=NORMAL")  # outside SQLAlchemy's transaction
                with connection.begin():
                    yield connection
            finally:
                try:
                    driver.execute(f"PRAGMA synchronous={int(before)}")
                except Exception:  # never back in the pool without its disk sync
                    log.warning("restoring synchronous=%s failed; dropping the connection", before)
                    connection.invalidate()

    # -- delivering -------------------------------------------------------------

    def run_once(self, limit: int | None = None, settle: bool = True) -> int:
        """Claim and deliver one batch; returns how many deliveries were attempted.

        With ``settle=False`` the outcome is kept and settled by the next call
        in the transaction of its claim (what :meth:`run` does); a worker that
        dies meanwhile only delivers those again.
        """
        previous, self._unsettled = self._unsettled, ([], [], [])
        limit = limit or self.settings.batch
        claimed, events = self._claim_events(limit, *previous)
        self._more_due = len(claimed) >= limit
        if not claimed:
            self._maybe_prune()
            return 0
        done: list[int] = []
        failed: list[tuple[_Claimed, Failure]] = []
        released: list[int] = []
        stopped: set[tuple[str, str]] = set()
        # Past half the lease, the rest go back: another worker may take a
        # delivery over once its lease runs out, and must not find it delivered.
        deadline = time.monotonic() + self.settings.lease_seconds / 2
        for item in claimed:  # in id order: a lane's deliveries one after the other
            lane = (item.receiver, item.lane)
            late = bool(done or failed) and time.monotonic() > deadline
            if late or lane in stopped:  # or waits behind the retry of an earlier one
                released.append(item.id)
                self._more_due = self._more_due or late
                continue
            failure = self._deliver(item, events.get(item.event_pk))
            if failure is None:
                done.append(item.id)
            else:
                failed.append((item, failure))
                stopped.add(lane)
        if settle:
            self._claim(0, done, failed, released)
        else:
            self._unsettled = (done, failed, released)
        return len(claimed) - len(released)

    def _deliver(self, item: _Claimed, row: t.Any) -> Failure | None:
        """Deliver claimed ``item`` of outbox ``row``; None on success."""
        if row is None:
            return Failure("the event's outbox row is gone")
        event = Event(
            event_id=row.event_id,
            signal=row.signal,
            sender=json.loads(row.sender),
            key=row.key,
            sent_at=row.sent_at,
            attempt=item.attempts,
            receiver=item.receiver,
        )
        return self.call(item.kind, event, json.loads(row.payload))

    def call(self, kind: str, event: Event, payload: dict[str, t.Any]) -> Failure | None:
        """Call ``event.receiver`` for ``event`` (a signal's wire kwargs, or a
        job's args and kwargs); None on success, else the :class:`Failure`."""
        token = _current.set(event)
        try:
            receiver = self._receiver(event.receiver)
            if kind == "job":
                receiver(*payload.get("args", ()), **payload.get("kwargs", {}))
            else:
                receiver(event.sender, **payload)
        except Exception as exc:
            self.failed += 1
            log.warning(
                "background receiver %s failed on %s event %s (attempt %d): %r",
                event.receiver,
                event.signal,
                event.event_id,
                event.attempt,
                exc,
            )
            retry_after = getattr(exc, "retry_after", None)
            schedule = payload.get("retry") if kind == "job" else None
            return Failure(
                "".join(traceback.format_exception(exc))[-4000:],
                float(retry_after) if isinstance(retry_after, (int, float)) else None,
                tuple(schedule) if isinstance(schedule, list) else None,
            )
        finally:
            _current.reset(token)
            try:
                model.Session.remove()
            except Exception:  # a receiver left its session broken: it is dropped anyway
                log.debug("removing a receiver's session failed", exc_info=True)
        self.delivered += 1
        return None

    def _receiver(self, path: str) -> c.Callable[..., t.Any]:
        found = self._receivers.get(path)
        if found is None:
            try:
                found = resolve(path)
            except Exception as exc:
                raise LookupError(f"cannot import the background receiver {path!r}: {exc}") from exc
            self._receivers[path] = found
        return found

    def _next_attempt(self, attempts: int, failure: Failure) -> float | None:
        """Seconds until the next attempt after ``attempts`` failed ones, or None: dead."""
        if failure.schedule is not None:
            if attempts > len(failure.schedule):
                return None
            delay = failure.schedule[attempts - 1]
        elif attempts >= self.settings.max_attempts:
            return None
        else:
            delay = self.settings.backoff(attempts, random.random())
        if failure.retry_after is not None:
            delay = max(delay, failure.retry_after)
        return delay

    def _settle_in(
        self,
        connection: sa.Connection,
        done: c.Sequence[int],
        failed: c.Sequence[tuple[_Claimed, Failure]],
        released: c.Sequence[int],
        now: float,
    ) -> None:
        d = _delivery
        if done:
            connection.execute(_DELETE_DONE, {"ids": list(done), "worker": self.name})
        if released:  # claimed behind a failure and not attempted: as before the claim
            connection.execute(_RELEASE, {"ids": list(released), "worker": self.name, "now": now})
        for item, failure in failed:
            delay = self._next_attempt(item.attempts, failure)
            dead = delay is None
            connection.execute(
                d.update()
                .where(d.c.id == item.id, d.c.leased_by == self.name)
                .values(
                    state="dead" if dead else "pending",
                    next_attempt_at=now + (delay or 0.0),
                    lease_until=None,
                    leased_by=None,
                    last_error=failure.error,
                    updated=now,
                )
            )
            if dead:
                log.error(
                    "background receiver %s gave up after %d attempts (delivery %d)",
                    item.receiver,
                    item.attempts,
                    item.id,
                )

    # -- loops ------------------------------------------------------------------

    def drain(self, timeout: float = 30.0) -> int:
        """Deliver until nothing is due now (retries scheduled later stay);
        returns how many deliveries were attempted."""
        total = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            count = self.run_once()
            if not count:
                return total
            total += count
        return total

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; errors of the database are logged and retried."""
        listener = _PgListener(self.engine) if self._postgres else None
        seen = 0
        try:
            while not stop.is_set():
                try:
                    count = self.run_once(settle=False)
                except Exception:
                    log.exception("delivery worker %s: claiming failed; retrying", self.name)
                    stop.wait(min(5.0, self.settings.poll_seconds * 4 or 1.0))
                    continue
                if count and self._more_due:
                    continue  # a full batch: more are due now
                # What was delivered is settled by the next claim, after the
                # wait: one transaction per batch.
                if listener is not None:
                    woken = listener.wait(self.settings.poll_seconds)
                else:
                    before = seen
                    seen = outbox.wait_for_events(seen, self.settings.poll_seconds)
                    woken = seen != before
                if woken and self.settings.gather_seconds:
                    # Let a burst of commits gather: one claim for many events.
                    stop.wait(self.settings.gather_seconds)
            if self._unsettled != ([], [], []):
                self._claim(0, *self._unsettled)
                self._unsettled = ([], [], [])
        finally:
            if listener is not None:
                listener.close()

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < 10.0:
            return
        self._last_prune = now
        prune(self.engine)


def prune(engine: sa.Engine) -> int:
    """Delete outbox rows that need nothing more (relayed, no delivery left)."""
    o, d = _outbox, _delivery
    with engine.begin() as connection:
        result = connection.execute(
            o.delete().where(
                o.c.relayed.is_(True),
                ~sa.exists(sa.select(sa.literal(1)).where(d.c.event_pk == o.c.id)),
            )
        )
    return int(result.rowcount or 0)


class _PgListener:
    """``LISTEN heliograph_events`` on a connection of its own."""

    def __init__(self, engine: sa.Engine) -> None:
        self.connection = engine.raw_connection()
        self.driver = self.connection.driver_connection
        self.driver.autocommit = True  # type: ignore[union-attr]
        self.driver.execute(f"LISTEN {outbox.PG_CHANNEL}")  # type: ignore[union-attr]

    def wait(self, timeout: float) -> bool:
        """Wait for a notification; True when one came."""
        try:
            for _ in self.driver.notifies(timeout=timeout, stop_after=1):  # type: ignore[union-attr]
                return True
        except Exception:
            log.debug("waiting for notifications failed", exc_info=True)
            time.sleep(timeout)
        return False

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:
            log.debug("closing the listener failed", exc_info=True)
