"""What operators see of background delivery, and what they can do about it.

Used by ``heliograph events`` and the ``/ckan-admin`` page: per receiver the
pending, retrying, running and dead deliveries and the age of the oldest
pending one; dead deliveries with their last error; retry and discard.
"""

from __future__ import annotations

import collections.abc as c
import time
import typing as t
from dataclasses import dataclass

import sqlalchemy as sa

from heliograph import model

__all__ = ["DeliveryRow", "ReceiverSummary", "discard", "list_deliveries", "retry", "summary"]

_outbox = t.cast(sa.Table, model.EventOutbox.__table__)
_delivery = t.cast(sa.Table, model.EventDelivery.__table__)

STATES = ("pending", "retrying", "running", "dead")


@dataclass(frozen=True)
class ReceiverSummary:
    receiver: str
    owner: str | None
    kind: str
    pending: int
    retrying: int
    running: int
    dead: int
    oldest_pending_seconds: float | None

    @property
    def backlog(self) -> int:
        return self.pending + self.retrying + self.running


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    receiver: str
    owner: str | None
    state: str
    attempts: int
    signal: str
    event_id: str
    key: str
    next_attempt_at: float
    last_error: str | None

    @property
    def error_line(self) -> str:
        """The last line of the last error (the exception), for listings."""
        lines = [line for line in (self.last_error or "").strip().splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""


def _state_of() -> sa.ColumnElement[str]:
    d = _delivery.c
    return sa.case(
        (sa.and_(d.state == "pending", d.attempts > 0), "retrying"),
        else_=d.state,
    )


def summary(connection: sa.Connection) -> list[ReceiverSummary]:
    """One line per receiver that has deliveries left, by receiver."""
    d = _delivery.c
    state = _state_of().label("state")
    rows = connection.execute(
        sa.select(d.receiver, d.owner, d.kind, state, sa.func.count(), sa.func.min(d.created))
        .group_by(d.receiver, d.owner, d.kind, state)
        .order_by(d.receiver)
    ).all()
    now = time.time()
    merged: dict[tuple[str, str | None, str], dict[str, t.Any]] = {}
    for receiver, owner, kind, row_state, count, oldest in rows:
        entry = merged.setdefault(
            (receiver, owner, kind), {s: 0 for s in STATES} | {"oldest": None}
        )
        entry[row_state] = count
        if row_state in ("pending", "retrying", "running") and oldest is not None:
            entry["oldest"] = oldest if entry["oldest"] is None else min(entry["oldest"], oldest)
    return [
        ReceiverSummary(
            receiver=receiver,
            owner=owner,
            kind=kind,
            pending=entry["pending"],
            retrying=entry["retrying"],
            running=entry["running"],
            dead=entry["dead"],
            oldest_pending_seconds=None
            if entry["oldest"] is None
            else max(0.0, now - entry["oldest"]),
        )
        for (receiver, owner, kind), entry in merged.items()
    ]


def list_deliveries(
    connection: sa.Connection,
    state: str | None = None,
    receiver: str | None = None,
    limit: int = 100,
) -> list[DeliveryRow]:
    """Deliveries left, oldest first; ``state`` one of pending, retrying, running, dead."""
    d, o = _delivery.c, _outbox.c
    query = (
        sa.select(
            d.id,
            d.receiver,
            d.owner,
            _state_of().label("state"),
            d.attempts,
            o.signal,
            o.event_id,
            d.lane,
            d.next_attempt_at,
            d.last_error,
        )
        .join(_outbox, o.id == d.event_pk)
        .order_by(d.id)
        .limit(limit)
    )
    if state is not None:
        query = query.where(_state_of() == state)
    if receiver is not None:
        query = query.where(d.receiver == receiver)
    return [DeliveryRow(*row) for row in connection.execute(query)]


def _select_ids(
    ids: c.Sequence[int] | None, receiver: str | None, state: str
) -> sa.ColumnElement[bool]:
    d = _delivery.c
    clause: sa.ColumnElement[bool] = _state_of() == state
    if ids:
        clause = sa.and_(clause, d.id.in_(list(ids)))
    if receiver:
        clause = sa.and_(clause, d.receiver == receiver)
    return clause


def retry(
    connection: sa.Connection,
    ids: c.Sequence[int] | None = None,
    receiver: str | None = None,
    state: str = "dead",
) -> int:
    """Make dead (or retrying) deliveries due now, attempts counted afresh;
    returns how many."""
    now = time.time()
    result = connection.execute(
        _delivery.update()
        .where(_select_ids(ids, receiver, state))
        .values(state="pending", attempts=0, next_attempt_at=now, updated=now)
    )
    return int(result.rowcount or 0)


def discard(
    connection: sa.Connection,
    ids: c.Sequence[int] | None = None,
    receiver: str | None = None,
    state: str = "dead",
) -> int:
    """Delete dead (or retrying, or pending) deliveries for good; returns how many."""
    result = connection.execute(_delivery.delete().where(_select_ids(ids, receiver, state)))
    return int(result.rowcount or 0)
