"""Background jobs on the delivery machinery, as CKAN's ``enqueue_job``.

A job is ``fn(*args, **kwargs)`` called once in a worker, after the
transaction that enqueued it committed (inside an action: with it; outside:
at once), at least once, retried like a background receiver. ``fn`` must be
importable by a dotted path and its arguments JSON values. Jobs are kept in
the portal's database whatever broker carries the signals, so ``job_list``
sees every job that has not finished.
"""

from __future__ import annotations

import collections.abc as c
import datetime as dt
import typing as t

import sqlalchemy as sa

from heliograph import model
from heliograph.events import outbox
from heliograph.plugins.background import receiver_path

__all__ = ["DEFAULT_QUEUE", "JobError", "cancel", "clear", "enqueue", "list_jobs", "show"]

DEFAULT_QUEUE = "default"

_outbox = t.cast(sa.Table, model.EventOutbox.__table__)
_delivery = t.cast(sa.Table, model.EventDelivery.__table__)


class JobError(ValueError):
    """A job cannot be enqueued (the message says why) or is not known."""


def enqueue(
    fn: c.Callable[..., t.Any],
    args: c.Sequence[t.Any] | None = None,
    kwargs: c.Mapping[str, t.Any] | None = None,
    title: str | None = None,
    queue: str = DEFAULT_QUEUE,
    *,
    key: str | None = None,
    retry: c.Sequence[float] | None = None,
    delay: float = 0.0,
) -> dict[str, t.Any]:
    """Enqueue ``fn(*args, **kwargs)``; returns the job as ``job_show`` does.

    Jobs with the same ``key`` (e.g. a webhook and an object) run one at a
    time in enqueue order. ``retry`` is the job's own schedule of delays in
    seconds (e.g. ``[0, 5, 300]``), replacing ``heliograph.events.*`` backoff;
    a job raising ``toolkit.RetryLater(seconds)`` waits at least that long.
    ``delay`` (seconds) holds its first run back that long.
    """
    path = receiver_path(fn)
    if path is None:
        raise JobError(
            f"a worker cannot import the job function {fn!r} by a dotted path: use a "
            "module-level function, not a lambda, a closure or a method of another object"
        )
    if not isinstance(queue, str) or not queue or len(queue) > 100:
        raise JobError(f"queue must be a name of 1 to 100 characters, got {queue!r}")
    if key is not None and (not isinstance(key, str) or not key or len(key) > 200):
        raise JobError(f"key must be a string of 1 to 200 characters, got {key!r}")
    if retry is not None and not all(
        isinstance(delay, (int, float)) and delay >= 0 for delay in retry
    ):
        raise JobError(f"retry must be a list of delays in seconds (0 or more), got {retry!r}")
    if not isinstance(delay, (int, float)) or isinstance(delay, bool) or not delay >= 0:
        raise JobError(f"delay must be a number of seconds (0 or more), got {delay!r}")
    try:
        job_id = outbox.write_job(
            path,
            list(args or ()),
            dict(kwargs or {}),
            title,
            queue,
            key=key,
            retry=retry,
            delay=float(delay),
        )
    except outbox.OutboxError as exc:
        raise JobError(str(exc)) from None
    return {"id": job_id, "title": title, "queue": queue, "created": _iso(None)}


def _iso(unix: float | None) -> str:
    moment = dt.datetime.now(dt.UTC) if unix is None else dt.datetime.fromtimestamp(unix, dt.UTC)
    return moment.replace(tzinfo=None).isoformat()


def _select() -> sa.Select[t.Any]:
    return (
        sa.select(
            _outbox.c.event_id,
            _delivery.c.title,
            _delivery.c.queue,
            _delivery.c.created,
            _delivery.c.state,
            _delivery.c.attempts,
            _delivery.c.last_error,
            _delivery.c.receiver,
        )
        .join(_outbox, _outbox.c.id == _delivery.c.event_pk)
        .where(_delivery.c.kind == "job")
        .order_by(_delivery.c.id)
    )


def _as_dict(row: t.Any) -> dict[str, t.Any]:
    return {
        "id": row.event_id,
        "title": row.title,
        "queue": row.queue,
        "created": _iso(row.created),
        "state": row.state,
        "attempts": row.attempts,
        "function": row.receiver,
        "last_error": row.last_error,
    }


def list_jobs(
    connection: sa.Connection, queues: c.Sequence[str] | None = None
) -> list[dict[str, t.Any]]:
    """Jobs not finished yet (pending, running or dead), oldest first."""
    query = _select()
    if queues:
        query = query.where(_delivery.c.queue.in_(list(queues)))
    return [_as_dict(row) for row in connection.execute(query)]


def show(connection: sa.Connection, job_id: str) -> dict[str, t.Any] | None:
    row = connection.execute(_select().where(_outbox.c.event_id == job_id)).first()
    return None if row is None else _as_dict(row)


def cancel(connection: sa.Connection, job_id: str) -> bool:
    """Remove a job that has not finished; False when there is none by that id."""
    found = connection.execute(
        sa.select(_outbox.c.id).where(
            _outbox.c.event_id == job_id, _outbox.c.signal == outbox.JOB_SIGNAL
        )
    ).scalar()
    if found is None:
        return False
    connection.execute(_delivery.delete().where(_delivery.c.event_pk == found))
    connection.execute(_outbox.delete().where(_outbox.c.id == found))
    return True


def clear(connection: sa.Connection, queues: c.Sequence[str] | None = None) -> list[str]:
    """Remove every unfinished job (of ``queues``); returns the queues cleared."""
    query = sa.select(_delivery.c.event_pk, _delivery.c.queue).where(_delivery.c.kind == "job")
    if queues:
        query = query.where(_delivery.c.queue.in_(list(queues)))
    rows = connection.execute(query).all()
    pks = [row.event_pk for row in rows]
    if pks:
        connection.execute(_delivery.delete().where(_delivery.c.event_pk.in_(pks)))
        connection.execute(_outbox.delete().where(_outbox.c.id.in_(pks)))
    return sorted(set(queues or []) | {row.queue for row in rows})
