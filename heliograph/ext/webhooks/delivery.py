"""Delivering portal events to hooks.

:func:`dispatch` is the plugin's one background receiver: the worker calls it
once per event, after the commit, in order per object, and it fans the event
out to every hook that wants it, in the worker (a request pays only for the
outbox row, however many hooks there are). For each event it:

1. reads, in one query, the hooks' change counter and which hooks have
   messages about this object waiting for a retry (their *backlog*);
2. keeps the enabled hooks in memory (reloaded only when the counter moved)
   and picks those whose topics and filters match;
3. keeps those whose owner may see the object (the dataset's permission
   labels against the owner's, as the activity stream does; worked out once
   per owner and event, and not at all for a public object);
4. POSTs one body, signed for each hook (``webhook-id`` is the event's id, the
   same on every redelivery), on this thread's kept-alive connections;
5. logs the attempts; a failure becomes a job of the delivery machinery, keyed
   by hook and object, on the retry schedule, and later messages of that hook
   about that object queue behind it, so each hook sees one object's events
   in order.

Successful attempts are logged in batches (at most ``FLUSH_SECONDS`` late);
failures, and the rows a retry needs, are written before the worker hears the
event was handled.
"""

from __future__ import annotations

import atexit
import collections.abc as c
import datetime as dt
import json
import logging
import threading
import time
import typing as t
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

try:
    import orjson
except ImportError:  # the "fast" extra is optional: json writes the same body
    orjson = None  # type: ignore[assignment]

from heliograph.ext.webhooks import client, store
from heliograph.ext.webhooks import settings as webhook_settings
from heliograph.ext.webhooks.tables import (
    webhook,
    webhook_attempt,
    webhook_backlog,
    webhook_message,
)
from heliograph.plugins import toolkit as tk

log = logging.getLogger(__name__)

# action -> (kind, verb): the topic is "kind/verb".
ACTIONS: dict[str, tuple[str, str]] = {
    "package_create": ("dataset", "create"),
    "package_update": ("dataset", "update"),
    "package_delete": ("dataset", "delete"),
    "resource_create": ("resource", "create"),
    "resource_update": ("resource", "update"),
    "resource_delete": ("resource", "delete"),
    "organization_create": ("organization", "create"),
    "organization_update": ("organization", "update"),
    "organization_delete": ("organization", "delete"),
}
DATASTORE_UPSERT = "datastore/upsert"
TOPICS: tuple[str, ...] = (
    *dict.fromkeys(f"{kind}/{verb}" for kind, verb in ACTIONS.values()),
    DATASTORE_UPSERT,
)
PATTERNS: frozenset[str] = frozenset(
    {*TOPICS, "*", *{f"{topic.split('/')[0]}/*" for topic in TOPICS}}
)
"""What ``topics`` may hold: a topic, ``kind/*`` or ``*``."""
PING = "webhook/test"
GROUP_LEFT_OUT = frozenset({"packages", "users", "package_count", "member_count"})
"""What of an organization stays out of a message: its members, and counts made
for the actor (who may see private datasets)."""
MAX_RECORDS = 100
"""A ``datastore/upsert`` message carries at most this many of the records."""
FLUSH_SECONDS = 0.25
PRUNE_SECONDS = 600.0
"""How often a process delivering messages deletes the log past ``log_days``."""
USER_AGENT = "heliograph-webhooks"


def topic_matches(patterns: c.Collection[str], topic: str) -> bool:
    return "*" in patterns or topic in patterns or f"{topic.split('/')[0]}/*" in patterns


# -- hooks in memory ----------------------------------------------------------------


@dataclass
class Hook:
    id: str
    owner_id: str
    owner_name: str | None
    url: str
    topics: frozenset[str]
    organization_id: str | None
    package_id: str | None
    resource_id: str | None
    failing_since: float | None
    created: float
    signer: Webhook
    previous: Webhook | None
    previous_until: float | None

    @classmethod
    def from_row(cls, row: t.Any, owner_name: str | None) -> Hook:
        previous = Webhook(row.previous_secret) if row.previous_secret else None
        return cls(
            id=row.id,
            owner_id=row.owner_id,
            owner_name=owner_name,
            url=row.url,
            topics=frozenset(store.topics_of(row)),
            organization_id=row.organization_id,
            package_id=row.package_id,
            resource_id=row.resource_id,
            failing_since=row.failing_since,
            created=row.created,
            signer=Webhook(row.secret),
            previous=previous,
            previous_until=row.previous_secret_until,
        )

    def wants(self, subject: Subject) -> bool:
        if self.resource_id is not None and self.resource_id != subject.resource_id:
            return False
        if self.package_id is not None and self.package_id != subject.package_id:
            return False
        return self.organization_id is None or self.organization_id == subject.organization_id

    def signature(self, message_id: str, moment: dt.datetime, body: str, now: float) -> str:
        """``v1,<sig>``; during a rotation the previous secret's signature too."""
        signed = self.signer.sign(message_id, moment, body)
        if self.previous is not None and (self.previous_until or 0) > now:
            return f"{signed} {self.previous.sign(message_id, moment, body)}"
        return signed


class _Hooks:
    """The enabled hooks of active owners, reloaded when the change counter moves."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.version: int | None = None
        self.engine: t.Any = None
        self.hooks: tuple[Hook, ...] = ()

    def get(self, engine: t.Any, version: int) -> tuple[Hook, ...]:
        with self.lock:
            if self.version == version and self.engine is engine:
                return self.hooks
        hooks = _load_hooks(engine)
        with self.lock:
            self.version, self.engine, self.hooks = version, engine, hooks
        return hooks

    def forget(self) -> None:
        with self.lock:
            self.version = None


_hooks = _Hooks()


def _load_hooks(engine: t.Any) -> tuple[Hook, ...]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(webhook).where(webhook.c.enabled.is_(True)).order_by(webhook.c.created)
        ).all()
    owners = {owner_id: _owner(owner_id) for owner_id in {row.owner_id for row in rows}}
    found = []
    for row in rows:
        owner = owners.get(row.owner_id)
        if owner is None or owner.get("state") != "active":
            continue
        found.append(Hook.from_row(row, owner.get("name")))
    return tuple(found)


def _owner(owner_id: str) -> dict[str, t.Any] | None:
    try:
        return t.cast(
            dict[str, t.Any], tk.get_action("user_show")({"ignore_auth": True}, {"id": owner_id})
        )
    except tk.ObjectNotFound:
        return None


_STATE_SQL = (
    "SELECT 'v', CAST(version AS VARCHAR(40)) FROM webhook_state "
    "UNION ALL SELECT 'b', hook_id FROM webhook_backlog WHERE object_key = {param}"
)
_reader = threading.local()


def _state(engine: t.Any, key: str) -> tuple[int, set[str]]:
    """The change counter and the hooks with a backlog for ``key``, in one
    query, on a database connection this thread keeps (no pool round trip,
    no statement compiled per event)."""
    reader = getattr(_reader, "reader", None)
    if reader is None or reader[0] is not engine:
        raw = engine.raw_connection()
        param = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        reader = _reader.reader = (engine, raw, _STATE_SQL.format(param=param))
    _engine, raw, sql = reader
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(sql, (key,))
            found = cursor.fetchall()
        finally:
            cursor.close()
        raw.rollback()  # no transaction stays open between events
    except Exception:
        _reader.reader = None
        try:
            raw.invalidate()
        except Exception:
            log.debug("dropping a broken connection failed", exc_info=True)
        raise
    version = 0
    backlog: set[str] = set()
    for kind, value in found:
        if kind == "v":
            version = int(value)
        else:
            backlog.add(value)
    return version, backlog


# -- what an event is about -------------------------------------------------------------


@dataclass
class Subject:
    """The object of an event, as filters and visibility need it."""

    kind: str
    id: str
    organization_id: str | None = None
    package_id: str | None = None
    resource_id: str | None = None
    labels: list[str] | None = None
    """The dataset's permission labels; None: everyone may see it (organizations)."""
    data: dict[str, t.Any] = field(default_factory=dict)


def _show(action: str, ref: str) -> dict[str, t.Any] | None:
    try:
        return t.cast(dict[str, t.Any], tk.get_action(action)({"ignore_auth": True}, {"id": ref}))
    except (tk.ObjectNotFound, tk.ValidationError):
        return None


def _dataset_subject(kind: str, package: dict[str, t.Any], data: dict[str, t.Any]) -> Subject:
    return Subject(
        kind,
        str(data.get("id") or package["id"]),
        organization_id=package.get("owner_org"),
        package_id=package.get("id"),
        labels=tk.dataset_permission_labels(package),
        data=data,
    )


def subject_of(topic: str, sender: t.Any, kwargs: dict[str, t.Any], key: str) -> Subject | None:
    """The object of the event, or None when it cannot be found any more."""
    kind, _, verb = topic.partition("/")
    result = kwargs.get("result")
    if kind == "dataset":
        if verb == "delete":
            package = _show("package_show", key)
            if package is None:
                return None
            # Who could see it just before: the labels of the dataset still active.
            package = {**package, "state": "active"}
            return _dataset_subject(kind, package, {"id": package["id"], "type": "dataset"})
        if not isinstance(result, dict) or "id" not in result:
            return None
        return _dataset_subject(kind, result, result)
    if kind == "resource":
        if verb == "delete":
            resource_id = key
            data: dict[str, t.Any] = {"id": resource_id, "type": "resource"}
            package_id = tk.resource_package_id(resource_id)
        else:
            if not isinstance(result, dict) or "id" not in result:
                return None
            resource_id, data, package_id = str(result["id"]), result, result.get("package_id")
        package = _show("package_show", str(package_id)) if package_id else None
        if package is None:
            return None
        if verb == "delete":
            package = {**package, "state": "active"}
        subject = _dataset_subject(kind, package, data)
        subject.resource_id = resource_id
        return subject
    if kind == "organization":
        if verb == "delete":
            return Subject(kind, key, organization_id=key, data={"id": key, "type": "organization"})
        if not isinstance(result, dict) or "id" not in result:
            return None
        data = {name: value for name, value in result.items() if name not in GROUP_LEFT_OUT}
        return Subject(kind, str(result["id"]), organization_id=str(result["id"]), data=data)
    if topic == DATASTORE_UPSERT:
        resource_id = str(sender)
        package_id = tk.resource_package_id(resource_id)
        package = _show("package_show", package_id) if package_id else None
        if package is None:
            return None
        records = kwargs.get("records")
        records = records if isinstance(records, list) else []
        data = {
            "resource_id": resource_id,
            "package_id": package_id,
            "record_count": len(records),
            "records": records[:MAX_RECORDS],
        }
        subject = _dataset_subject("datastore", package, data)
        subject.resource_id = resource_id
        return subject
    return None


def _visible(hooks: c.Sequence[Hook], subject: Subject) -> list[Hook]:
    """The hooks whose owner may see ``subject`` now (one check per owner)."""
    if subject.labels is None or "public" in subject.labels:
        return list(hooks)
    allowed: dict[str, bool] = {}
    shown = []
    for hook in hooks:
        if hook.owner_id not in allowed:
            labels = tk.user_permission_labels({"user": hook.owner_name, "ignore_auth": False})
            allowed[hook.owner_id] = labels is None or any(
                label in labels for label in subject.labels
            )
        if allowed[hook.owner_id]:
            shown.append(hook)
    return shown


# -- messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    id: str
    type: str
    key: str
    body: str
    created: float


def message_id(event_id: str) -> str:
    """The ``webhook-id`` of an event's message: the same on every redelivery."""
    return "msg_" + event_id.replace("-", "")


_ORJSON_OPTIONS = (
    0 if orjson is None else orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
"""Datetimes and dataclasses go to ``default=str``, as with :mod:`json`."""


def message_body(document: t.Any) -> str:
    """``document`` as a message body: compact JSON, non-ASCII characters as
    themselves, what JSON has no type for as its ``str()``. orjson writes it
    when installed (the ``fast`` extra; a twelfth of :mod:`json`'s time for
    a dataset), :mod:`json` otherwise, and also what orjson refuses (an
    integer past 64 bits, a key that is not a string). The two write the same
    text but for a float's exponent (``1.5e-7`` against ``1.5e-07``): the
    same number, and the signature covers the bytes sent either way."""
    if orjson is not None:
        try:
            return orjson.dumps(document, default=str, option=_ORJSON_OPTIONS).decode("utf-8")
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str)


def make_message(event_id: str, topic: str, key: str, sent_at: float, data: t.Any) -> Message:
    moment = dt.datetime.fromtimestamp(sent_at, dt.UTC).isoformat().replace("+00:00", "Z")
    body = message_body({"type": topic, "timestamp": moment, "data": data})
    return Message(message_id(event_id), topic, key, body, sent_at)


def send(hook: Hook, message: Message, config: webhook_settings.Settings) -> client.Response:
    """POST ``message`` to ``hook``, signed now."""
    now = time.time()
    moment = dt.datetime.fromtimestamp(int(now), dt.UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message.id,
        "webhook-timestamp": str(int(now)),
        "webhook-signature": hook.signature(message.id, moment, message.body, now),
    }
    return client.post(hook.url, message.body.encode("utf-8"), headers, config)


# -- the delivery log -------------------------------------------------------------------


class _Log:
    """Attempts (and messages) waiting to be written, in batches."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.writing = threading.Lock()
        self.attempts: list[dict[str, t.Any]] = []
        self.messages: dict[str, dict[str, t.Any]] = {}
        self.engine: t.Any = None
        self.oldest = 0.0
        self.flusher: threading.Thread | None = None

    def add(
        self, engine: t.Any, message: dict[str, t.Any] | None, attempts: list[dict[str, t.Any]]
    ) -> None:
        with self.lock:
            stale = self.engine is not None and self.engine is not engine
        if stale:
            self.flush()  # rows of another database (tests rebind) go there first
        with self.lock:
            if not self.attempts and not self.messages:
                self.oldest = time.monotonic()
            self.engine = engine
            if message is not None:
                self.messages[message["id"]] = message
            self.attempts.extend(attempts)
            full = len(self.attempts) >= 500
            if self.flusher is None or not self.flusher.is_alive():
                self.flusher = threading.Thread(
                    target=self._run, name="heliograph-webhooks-log", daemon=True
                )
                self.flusher.start()
        if full:
            self.flush()

    def take(self) -> tuple[t.Any, list[dict[str, t.Any]], list[dict[str, t.Any]]]:
        with self.lock:
            engine, messages, attempts = self.engine, list(self.messages.values()), self.attempts
            self.messages, self.attempts = {}, []
        return engine, messages, attempts

    def flush(self, engine: t.Any = None) -> None:
        """Write what is waiting (in one transaction); returns once it is
        written, also when another thread had taken it to write."""
        with self.writing:
            taken_engine, messages, attempts = self.take()
            engine = taken_engine if taken_engine is not None else engine
            if engine is None or not (messages or attempts):
                return
            try:
                with engine.begin() as connection:
                    write_log(connection, messages, attempts)
            except Exception:
                log.exception("webhooks: the delivery log could not be written")

    def _run(self) -> None:
        pruned = 0.0
        while True:
            time.sleep(FLUSH_SECONDS / 2)
            with self.lock:
                due = bool(self.attempts or self.messages) and (
                    time.monotonic() - self.oldest >= FLUSH_SECONDS
                )
                engine = self.engine
            if due:
                self.flush()
            if engine is not None and time.monotonic() - pruned >= PRUNE_SECONDS:
                pruned = time.monotonic()
                try:
                    prune(engine, webhook_settings.current())
                except Exception:
                    log.exception("webhooks: the delivery log could not be pruned")


_log = _Log()
atexit.register(_log.flush)


def prune(engine: t.Any, config: webhook_settings.Settings) -> int:
    """Delete attempts and messages older than ``log_days``; returns how many rows."""
    cutoff = time.time() - config.log_days * 86400.0
    with engine.begin() as connection:
        attempts = connection.execute(
            webhook_attempt.delete().where(webhook_attempt.c.at < cutoff)
        ).rowcount
        messages = connection.execute(
            webhook_message.delete().where(webhook_message.c.created < cutoff)
        ).rowcount
    return int(attempts or 0) + int(messages or 0)


def flush_log() -> None:
    """Write the delivery log's waiting rows now."""
    _log.flush()


def _dialect_insert(connection: t.Any, table: sa.Table) -> t.Any:
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def write_log(
    connection: t.Any,
    messages: c.Sequence[dict[str, t.Any]],
    attempts: c.Sequence[dict[str, t.Any]],
) -> None:
    if messages:
        connection.execute(
            _dialect_insert(connection, webhook_message).on_conflict_do_nothing(
                index_elements=["id"]
            ),
            list(messages),
        )
    if attempts:
        connection.execute(webhook_attempt.insert(), list(attempts))


def _message_row(message: Message) -> dict[str, t.Any]:
    return {
        "id": message.id,
        "event_type": message.type,
        "object_key": message.key[:200],
        "body": message.body,
        "created": message.created,
    }


def _attempt_row(
    hook: Hook | t.Any,
    message: Message,
    attempt: int,
    response: client.Response | None,
    outcome: str,
    error: str | None = None,
) -> dict[str, t.Any]:
    return {
        "hook_id": hook.id,
        "message_id": message.id,
        "event_type": message.type,
        "attempt": attempt,
        "at": time.time(),
        "status": response.status if response is not None else None,
        "duration_ms": response.duration_ms if response is not None else 0.0,
        "response": response.excerpt if response is not None else None,
        "error": error if error is not None else (response.error if response else None),
        "outcome": outcome,
    }


# -- failures -----------------------------------------------------------------------------


def _backlog_add(connection: t.Any, hook_id: str, key: str) -> None:
    insert = _dialect_insert(connection, webhook_backlog).values(
        hook_id=hook_id, object_key=key[:200], pending=1
    )
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["hook_id", "object_key"],
            set_={"pending": webhook_backlog.c.pending + 1},
        )
    )


def backlog_done(connection: t.Any, hook_id: str, key: str) -> None:
    """One message of ``hook_id`` about ``key`` left the backlog."""
    where = sa.and_(webhook_backlog.c.hook_id == hook_id, webhook_backlog.c.object_key == key)
    connection.execute(
        webhook_backlog.update().where(where).values(pending=webhook_backlog.c.pending - 1)
    )
    connection.execute(webhook_backlog.delete().where(where, webhook_backlog.c.pending <= 0))


@dataclass
class _Disabled:
    hook_id: str
    owner_id: str
    url: str
    reason: str


def note_failure(
    connection: t.Any,
    hook_id: str,
    owner_id: str,
    url: str,
    response: client.Response,
    config: webhook_settings.Settings,
) -> _Disabled | None:
    """Record a failed attempt on the hook: 410 disables it at once; failing
    for ``disable_after_seconds`` disables it too. Returns what was disabled."""
    now = time.time()
    h = webhook.c
    if response.status == 410:
        reason = "The receiver answered 410 Gone"
        changed = connection.execute(
            webhook.update()
            .where(h.id == hook_id, h.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason, updated=now)
        ).rowcount
        store.bump_version(connection)
        return _Disabled(hook_id, owner_id, url, reason) if changed else None
    started = connection.execute(
        webhook.update().where(h.id == hook_id, h.failing_since.is_(None)).values(failing_since=now)
    ).rowcount
    if started:
        store.bump_version(connection)
    cutoff = now - config.disable_after_seconds
    since = connection.execute(sa.select(h.failing_since).where(h.id == hook_id)).scalar()
    if since is None or since > cutoff:
        return None
    hours = (now - since) / 3600.0
    reason = f"Every delivery failed for {hours:.1f} hours"
    changed = connection.execute(
        webhook.update()
        .where(h.id == hook_id, h.enabled.is_(True))
        .values(enabled=False, disabled_reason=reason, updated=now)
    ).rowcount
    store.bump_version(connection)
    return _Disabled(hook_id, owner_id, url, reason) if changed else None


def note_success(connection: t.Any, hook_ids: c.Collection[str]) -> None:
    if hook_ids:
        connection.execute(
            webhook.update()
            .where(webhook.c.id.in_(list(hook_ids)), webhook.c.failing_since.is_not(None))
            .values(failing_since=None)
        )
        store.bump_version(connection)


def tell_owner(disabled: _Disabled) -> None:
    """Mail the owner of a hook that was disabled (a failure to mail is logged)."""
    owner = _owner(disabled.owner_id)
    if owner is not None:  # as themselves: their own e-mail address is shown to them
        owner = tk.get_action("user_show")(
            {"user": owner["name"], "ignore_auth": True}, {"id": disabled.owner_id}
        )
    email = (owner or {}).get("email")
    if owner is None or not email:
        log.warning("webhooks: hook %s was disabled; its owner has no e-mail", disabled.hook_id)
        return
    title = tk.config.get("heliograph.site_title", "Heliograph")
    site = str(tk.config.get("heliograph.site_url", "")).rstrip("/")
    body = (
        f"Hello {owner.get('display_name') or owner.get('name')},\n\n"
        f"Your webhook {disabled.hook_id} sending to\n\n    {disabled.url}\n\n"
        f"was disabled: {disabled.reason}.\n\n"
        "No more events are sent to it. Once the receiver works again, turn it back on "
        f"on your profile ({site}/user/{owner.get('name')}/webhooks) or with the action "
        "webhook_update (enabled=true).\n"
    )
    try:
        tk.send_mail(str(email), f"A webhook was disabled on {title}", body)
    except tk.MailError as exc:
        log.warning("webhooks: could not mail the owner of hook %s: %s", disabled.hook_id, exc)


# -- the receivers ----------------------------------------------------------------------


def owner_changed(sender: t.Any, **kwargs: t.Any) -> None:
    """In the action's transaction: a user was deleted or changed, so the
    hooks workers keep (with their owners' state) are out of date."""
    context = kwargs.get("context") or {}
    session = context.get("session")
    if session is not None:
        store.bump_version(session.connection())


def topic_of(signal: str, sender: t.Any) -> str | None:
    if signal == "ckan.action_succeeded":
        found = ACTIONS.get(str(sender))
        return f"{found[0]}/{found[1]}" if found else None
    if signal == "ckanext.datastore_upsert":
        return DATASTORE_UPSERT
    return None


def dispatch(sender: t.Any, **kwargs: t.Any) -> None:
    """The background receiver: deliver one event to every hook that may have it."""
    event = tk.current_event()
    if event is None:
        raise RuntimeError("webhooks: dispatch runs in a worker, for one event")
    topic = topic_of(event.signal, sender)
    if topic is None:
        return
    engine = tk.database()
    version, backlog = _state(engine, event.key)
    hooks = [
        hook
        for hook in _hooks.get(engine, version)
        if hook.created <= event.sent_at and topic_matches(hook.topics, topic)
    ]
    if not hooks:
        return
    subject = subject_of(topic, sender, kwargs, event.key)
    if subject is None:
        return
    hooks = _visible([hook for hook in hooks if hook.wants(subject)], subject)
    if not hooks:
        return
    config = webhook_settings.current()
    message = make_message(event.event_id, topic, event.key, event.sent_at, subject.data)
    delivered: list[tuple[Hook, client.Response]] = []
    failed: list[tuple[Hook, client.Response]] = []
    queued: list[Hook] = []
    for hook in hooks:
        if hook.id in backlog:
            queued.append(hook)
            continue
        response = send(hook, message, config)
        (delivered if response.ok else failed).append((hook, response))
    attempts = [_attempt_row(hook, message, 1, r, "delivered") for hook, r in delivered]
    recovered = [hook.id for hook, _r in delivered if hook.failing_since is not None]
    if not failed and not queued and not recovered:
        _log.add(engine, _message_row(message), attempts)
        return
    _log.flush()
    settle(engine, message, attempts, failed, queued, recovered, config, first_attempt=1)


def settle(
    engine: t.Any,
    message: Message,
    attempts: list[dict[str, t.Any]],
    failed: c.Sequence[tuple[Hook, client.Response]],
    queued: c.Sequence[Hook],
    recovered: c.Sequence[str],
    config: webhook_settings.Settings,
    first_attempt: int,
) -> None:
    """Write the outcome of a message's first attempts; failures and queued
    hooks become retry jobs, in order behind the hook's backlog."""
    delays = config.delays()
    jobs: list[tuple[str, float, list[float], int]] = []
    disabled: list[_Disabled] = []
    with engine.begin() as connection:
        for hook, response in failed:
            gone = note_failure(connection, hook.id, hook.owner_id, hook.url, response, config)
            if gone is not None:
                disabled.append(gone)
            if response.status == 410 or gone is not None:
                attempts.append(_attempt_row(hook, message, first_attempt, response, "disabled"))
            elif len(delays) > first_attempt:
                attempts.append(_attempt_row(hook, message, first_attempt, response, "retrying"))
                _backlog_add(connection, hook.id, message.key)
                jobs.append((hook.id, delays[first_attempt], list(delays[first_attempt + 1 :]), 1))
            else:
                attempts.append(_attempt_row(hook, message, first_attempt, response, "failed"))
        for hook in queued:
            _backlog_add(connection, hook.id, message.key)
            jobs.append((hook.id, 0.0, list(delays[1:]), 0))
        note_success(connection, recovered)
        write_log(connection, [_message_row(message)], attempts)
    if disabled or recovered or failed:
        _hooks.forget()
    for hook_id, delay, retry, offset in jobs:
        tk.enqueue_job(
            retry_message,
            [hook_id, message.id, message.key, offset],
            title=f"webhook {hook_id}: {message.type}",
            queue="webhooks",
            key=f"webhook:{hook_id}:{message.key}"[:200],
            retry=retry,
            delay=delay,
        )
    for gone in disabled:
        tell_owner(gone)


def _retry_after(response: client.Response, config: webhook_settings.Settings) -> float | None:
    if response.retry_after is None:
        return None
    return min(response.retry_after, 86400.0) * config.retry_scale


def retry_message(hook_id: str, msg_id: str, key: str, offset: int) -> None:
    """A job: attempt message ``msg_id`` to hook ``hook_id`` again (attempt
    ``offset`` + the job's attempt); raises to be retried on the schedule."""
    event = tk.current_event()
    attempt = offset + (event.attempt if event is not None else 1)
    config = webhook_settings.current()
    engine = tk.database()
    with engine.connect() as connection:
        row = store.get(connection, hook_id)
        body = connection.execute(
            sa.select(webhook_message).where(webhook_message.c.id == msg_id)
        ).first()
    if body is None:
        with engine.begin() as connection:
            backlog_done(connection, hook_id, key)
        log.warning("webhooks: message %s is gone; hook %s skips it", msg_id, hook_id)
        return
    message = Message(body.id, body.event_type, body.object_key, body.body, body.created)
    if row is None or not row.enabled:
        with engine.begin() as connection:
            backlog_done(connection, hook_id, key)
            if row is not None:
                why = "The hook is disabled"
                write_log(
                    connection, [], [_attempt_row(row, message, attempt, None, "skipped", why)]
                )
        return
    hook = Hook.from_row(row, None)
    response = send(hook, message, config)
    last = attempt >= len(config.delays())
    with engine.begin() as connection:
        if response.ok:
            row_out = _attempt_row(hook, message, attempt, response, "delivered")
            write_log(connection, [], [row_out])
            backlog_done(connection, hook_id, key)
            if row.failing_since is not None:
                note_success(connection, [hook_id])
            gone = None
        else:
            gone = note_failure(connection, hook_id, row.owner_id, row.url, response, config)
            stop = last or response.status == 410 or gone is not None
            outcome = (
                "disabled" if (response.status == 410 or gone) else "failed" if last else "retrying"
            )
            write_log(connection, [], [_attempt_row(hook, message, attempt, response, outcome)])
            if stop:
                backlog_done(connection, hook_id, key)
    if not response.ok or row.failing_since is not None:
        _hooks.forget()
    if response.ok:
        return
    if gone is not None:
        tell_owner(gone)
    if response.status == 410 or gone is not None:
        return
    error = response.error or f"the receiver answered {response.status}"
    wait = _retry_after(response, config)
    if wait is not None and not last:
        raise tk.RetryLater(wait, f"webhook {hook_id}: {error}")
    raise DeliveryFailed(f"webhook {hook_id}: attempt {attempt} failed: {error}")


class DeliveryFailed(RuntimeError):
    """A retry attempt failed: the worker schedules the next one (or gives up)."""


# -- by hand: pings and redeliveries ---------------------------------------------------------


def ping(connection: t.Any, row: t.Any) -> dict[str, t.Any]:
    """Send a ``webhook/test`` message to the hook now; returns the logged attempt."""
    config = webhook_settings.current()
    now = time.time()
    message = make_message(
        str(uuid.uuid4()), PING, row.id, now, {"id": row.id, "type": "webhook", "ping": True}
    )
    hook = Hook.from_row(row, None)
    response = send(hook, message, config)
    attempt = _attempt_row(hook, message, 1, response, "delivered" if response.ok else "failed")
    write_log(connection, [_message_row(message)], [attempt])
    return {**attempt, "message_id": message.id}


def redeliver(hook_id: str, msg_id: str) -> dict[str, t.Any]:
    """Queue message ``msg_id`` for hook ``hook_id`` again (same ``webhook-id``)."""
    config = webhook_settings.current()
    delays = config.delays()
    return tk.enqueue_job(
        retry_message_by_hand,
        [hook_id, msg_id],
        title=f"webhook {hook_id}: redeliver {msg_id}",
        queue="webhooks",
        key=f"webhook-redeliver:{hook_id}:{msg_id}"[:200],
        retry=list(delays[1:]),
    )


def retry_message_by_hand(hook_id: str, msg_id: str) -> None:
    """A job: deliver ``msg_id`` to ``hook_id`` again, outside any backlog."""
    config = webhook_settings.current()
    engine = tk.database()
    with engine.connect() as connection:
        row = store.get(connection, hook_id)
        body = connection.execute(
            sa.select(webhook_message).where(webhook_message.c.id == msg_id)
        ).first()
        previous = connection.execute(
            sa.select(sa.func.max(webhook_attempt.c.attempt)).where(
                webhook_attempt.c.hook_id == hook_id, webhook_attempt.c.message_id == msg_id
            )
        ).scalar()
    if row is None or body is None or not row.enabled:
        return
    message = Message(body.id, body.event_type, body.object_key, body.body, body.created)
    hook = Hook.from_row(row, None)
    response = send(hook, message, config)
    attempt = int(previous or 0) + 1
    with engine.begin() as connection:
        outcome = "delivered" if response.ok else "retrying"
        write_log(connection, [], [_attempt_row(hook, message, attempt, response, outcome)])
        if response.ok and row.failing_since is not None:
            note_success(connection, [hook_id])
    if not response.ok:
        raise DeliveryFailed(
            f"webhook {hook_id}: redelivery failed: {response.error or response.status}"
        )
