"""The outbox: background events written in the sender's transaction.

Importing this module installs :func:`write` as the sink of
:mod:`heliograph.plugins.background`: every send of a signal with background
subscriptions writes one row to ``event_outbox`` and, with embedded delivery,
one ``event_delivery`` row per matching receiver.

Where it is written:

- inside an action (the logic layer opens a :class:`Scope` on the outermost
  call's session), in that transaction: a change that rolls back leaves no
  event, and the event is there as soon as the change is;
- outside any action (logins, downloads, password resets), in a transaction
  of its own, committed before ``send`` returns, so before the response.

A send whose arguments cannot cross as JSON raises :class:`OutboxError`
naming the signal and the argument; nothing is dropped silently (inside an
action the logic layer turns it into a failure of the action).
"""

from __future__ import annotations

import collections.abc as c
import contextvars
import json
import logging
import threading
import time
import typing as t
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from heliograph import model
from heliograph.events.settings import settings
from heliograph.lib.wire import WireError, encode, plain_wire
from heliograph.plugins import background
from heliograph.plugins.background import BackgroundSubscription
from heliograph.plugins.subscriptions import signal_label
from heliograph.signals import Signal

__all__ = [
    "JOB_SIGNAL",
    "OutboxError",
    "Scope",
    "begin",
    "notify",
    "wait_for_events",
    "write",
    "write_job",
]

log = logging.getLogger(__name__)

JOB_SIGNAL = "heliograph.job"
"""The ``signal`` of a background job's outbox row."""

PG_CHANNEL = "heliograph_events"
"""The PostgreSQL channel a committed event is announced on (LISTEN/NOTIFY)."""

_outbox = t.cast(sa.Table, model.EventOutbox.__table__)
_delivery = t.cast(sa.Table, model.EventDelivery.__table__)
_OUTBOX_INSERT = _outbox.insert()
_DELIVERY_INSERT = _delivery.insert()


class OutboxError(ValueError):
    """An event could not be written: the message names the signal and why."""


@dataclass
class Scope:
    """The transaction background events are written in: the outermost
    action's session, until :meth:`close`."""

    session: t.Any
    written: int = 0
    notified: bool = False
    error: OutboxError | None = None
    """The first event that could not be written: the transaction must not commit."""
    token: contextvars.Token[Scope | None] | None = field(default=None, repr=False)

    def close(self, committed: bool) -> None:
        """Leave the scope; after a commit, wake the workers if anything was written."""
        if self.token is not None:
            _scope.reset(self.token)
            self.token = None
        if committed and self.written:
            notify()


_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "heliograph_outbox_scope", default=None
)


def begin(session: t.Any) -> Scope:
    """Write background events in ``session``'s transaction until the scope is closed."""
    scope = Scope(session)
    scope.token = _scope.set(scope)
    return scope


# -- waking workers in this process -------------------------------------------------

_wake = threading.Condition()
_generation = 0


def notify() -> None:
    """Tell this process's workers that events were committed."""
    global _generation
    with _wake:
        _generation += 1
        _wake.notify_all()


def wait_for_events(seen: int, timeout: float) -> int:
    """Wait until events are committed after generation ``seen`` (or the timeout);
    returns the current generation."""
    with _wake:
        if _generation == seen:
            _wake.wait(timeout)
        return _generation


# -- writing --------------------------------------------------------------------------


def write(
    signal: Signal,
    sender: t.Any,
    kwargs: dict[str, t.Any],
    subs: c.Sequence[BackgroundSubscription],
) -> None:
    """Write one event of ``signal`` for ``subs`` (the sink of background sends)."""
    name = signal_label(signal)
    contract = getattr(signal, "contract", None)
    wire = getattr(contract, "wire", None) or plain_wire
    try:
        wire_sender, wire_kwargs = wire.convert(sender, kwargs)
        key = str(wire.key(sender, kwargs))[:200]
        sender_json = encode(wire_sender, "the sender")
        payload = encode(wire_kwargs, "arguments")
    except WireError as exc:
        raise _failed(OutboxError(f"signal {name}: {exc}")) from None
    except (TypeError, ValueError) as exc:
        raise _failed(
            OutboxError(f"signal {name}: its arguments cannot be written as JSON: {exc}")
        ) from None
    receivers: list[tuple[str, str | None]] = [(sub.path, sub.owner) for sub in subs]
    try:
        _insert(name, sender_json, key, payload, receivers, kind="signal")
    except sa.exc.SQLAlchemyError as exc:
        raise _failed(
            OutboxError(f"signal {name}: the event could not be written to the outbox: {exc}")
        ) from exc


def _failed(error: OutboxError) -> OutboxError:
    """Remember ``error`` in the open scope, so its transaction cannot commit."""
    scope = _scope.get()
    if scope is not None and scope.error is None:
        scope.error = error
    return error


def write_job(
    path: str,
    args: c.Sequence[t.Any],
    kwargs: c.Mapping[str, t.Any],
    title: str | None,
    queue: str,
    key: str | None = None,
    retry: c.Sequence[float] | None = None,
    delay: float = 0.0,
) -> str:
    """Write a background job calling ``path(*args, **kwargs)``; returns its id.

    Jobs with the same ``key`` run one after the other in enqueue order;
    ``retry`` (seconds) replaces the default backoff: the job is retried after
    each delay in turn, then dead; ``delay`` holds its first run back.
    """
    body: dict[str, t.Any] = {"args": list(args), "kwargs": dict(kwargs)}
    if retry is not None:
        body["retry"] = [float(delay) for delay in retry]
    try:
        payload = encode(body, "the job's arguments")
    except WireError as exc:
        raise OutboxError(f"job {path}: {exc}") from None
    return _insert(
        JOB_SIGNAL,
        "null",
        key or "",
        payload,
        [(path, None)],
        kind="job",
        title=title,
        queue=queue,
        delay=delay,
    )


def _insert(
    signal: str,
    sender_json: str,
    key: str,
    payload: str,
    receivers: list[tuple[str, str | None]],
    *,
    kind: str,
    title: str | None = None,
    queue: str = "default",
    delay: float = 0.0,
) -> str:
    event_id = str(uuid.uuid4())
    now = time.time()
    if kind == "job" and not key:
        key = event_id  # jobs without a key are not ordered among themselves
    embedded = kind == "job" or not settings.broker
    row = {
        "event_id": event_id,
        "signal": signal,
        "sender": sender_json,
        "key": key,
        "payload": payload,
        "receivers": json.dumps([path for path, _owner in receivers]),
        "sent_at": now,
        "relayed": embedded,
    }
    scope = _scope.get()
    if scope is not None:
        connection = scope.session.connection()
        _insert_rows(connection, row, receivers, embedded, kind, title, queue, now, delay)
        if not scope.notified and connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"NOTIFY {PG_CHANNEL}"))
            scope.notified = True
        scope.written += 1
        return event_id
    engine = t.cast(sa.Engine, model.Session.get_bind())
    with engine.begin() as connection:
        _insert_rows(connection, row, receivers, embedded, kind, title, queue, now, delay)
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"NOTIFY {PG_CHANNEL}"))
    notify()
    return event_id


def _insert_rows(
    connection: sa.Connection,
    row: dict[str, t.Any],
    receivers: list[tuple[str, str | None]],
    embedded: bool,
    kind: str,
    title: str | None,
    queue: str,
    now: float,
    delay: float = 0.0,
) -> None:
    inserted = connection.execute(_OUTBOX_INSERT, row).inserted_primary_key
    assert inserted is not None
    event_pk = inserted[0]
    if not embedded:
        return
    connection.execute(
        _DELIVERY_INSERT,
        [
            {
                "event_pk": event_pk,
                "receiver": path,
                "owner": owner,
                "lane": row["key"],
                "kind": kind,
                "queue": queue,
                "title": title,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now + delay,
                "created": now,
                "updated": now,
            }
            for path, owner in receivers
        ],
    )


background.set_sink(write)
