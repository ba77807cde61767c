"""Signals: blinker's public API, with the work moved from send time to connect time.

Every connect and disconnect rebuilds, under a lock, an immutable dispatch table:
a tuple of receiver getters for :data:`ANY` and, for each sender that has
receivers of its own, the merged tuple for that sender. ``send`` reads that
table in one attribute load and walks one tuple, so a send never takes a lock,
never sorts, never builds a set and never sees a half-made change.

Receivers are called in the order in which they were first connected.
"""

from __future__ import annotations

import collections.abc as c
import itertools
import logging
import sys
import threading
import typing as t
import weakref
from collections import deque
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property

from heliograph.signals import _loops, _settings
from heliograph.signals._utilities import (
    ANY,
    is_any,
    is_coroutine_receiver,
    make_ref,
    qualified_name,
    receiver_id,
    sender_key,
)
from heliograph.signals.contract import Contract
from heliograph.signals.guard import (
    SignalArgumentMutated,
    changed_arguments,
    snapshot_arguments,
)

logger = logging.getLogger(__name__)

F = t.TypeVar("F", bound=c.Callable[..., t.Any])
Receiver = c.Callable[..., t.Any]
Results = list[tuple[Receiver, t.Any]]
Getter = c.Callable[[], t.Any]

_KEYWORD_LOOP_FROM = 2
"""Sends to more receivers than this use a loop specialised for their keywords;
for one or two receivers choosing the loop costs more than it saves."""

RAISE = "raise"
ISOLATE = "isolate"
POLICIES = (RAISE, ISOLATE)

_ANY_KEY: tuple[str] = ("*",)
"""Bookkeeping key of the ANY sender; specific senders use ``(by_value, key)``."""

_NO_OWNER_FILTER = object()


@dataclass(frozen=True)
class ReceiverInfo:
    """One connected receiver, as introspection reports it."""

    receiver: Receiver
    name: str
    senders: tuple[t.Any, ...]
    """:data:`ANY`, sender values, or the repr of sender objects."""
    owners: tuple[str | None, ...]
    """Who connected it: plugin names, ``None`` for a direct ``connect``."""
    weak: bool
    failures: int


@dataclass(frozen=True)
class SignalStats:
    """How often a signal was sent and how often one of its receivers failed."""

    sent: int
    failed: int


class _Record:
    """Everything known about one connected receiver."""

    __slots__ = ("coroutine", "failures", "getter", "name", "ref", "senders", "strong")

    def __init__(self, name: str) -> None:
        self.name = name
        self.ref: weakref.ref[t.Any] | None = None
        self.strong: Receiver | None = None
        self.getter: Getter = _dead
        # sender key -> {owner: weak flag asked by that owner}
        self.senders: dict[t.Any, dict[t.Any, bool]] = {}
        self.failures = 0
        self.coroutine = False

    def wants_strong(self) -> bool:
        return any(not weak for owners in self.senders.values() for weak in owners.values())

    def owners(self) -> tuple[t.Any, ...]:
        seen: dict[t.Any, None] = {}
        for owners in self.senders.values():
            seen.update(dict.fromkeys(owners))
        return tuple(seen)

    def receiver(self) -> Receiver | None:
        if self.strong is not None:
            return self.strong
        return self.ref() if self.ref is not None else None


def _dead() -> None:
    return None


_registry: weakref.WeakSet[Signal] = weakref.WeakSet()
_registry_lock = threading.Lock()


def _refresh_all() -> None:
    """Re-derive every signal's dispatch mode after a global setting changed."""
    with _registry_lock:
        signals = list(_registry)
    for sig in signals:
        with sig._critical():
            sig._publish()


_settings.on_change(_refresh_all)


class Signal:
    """A notification emitter.

    :param doc: the signal's docstring.
    :param policy: ``'raise'`` (the default, blinker's behaviour: a receiver's
        exception propagates out of :meth:`send` and later receivers are not
        called) or ``'isolate'`` (every receiver is called; a failure is logged
        with the receiver's name, counted, announced on :data:`receiver_failed`
        and returned as that receiver's result).
    """

    ANY = ANY
    """An alias for the :data:`ANY` sender symbol."""

    set_class: type[set[t.Any]] = set
    """Kept for blinker compatibility; the order of calls is always connection order."""

    def __init__(self, doc: str | None = None, *, policy: str = RAISE) -> None:
        if doc:
            self.__doc__ = doc
        self._policy = _check_policy(policy)
        self._lock = threading.RLock()
        # True while a thread holding the lock works on the bookkeeping. Weak
        # references die at any allocation, also inside that work: their
        # callbacks then only queue the death in _pending, applied before
        # the lock is released (see _critical and _flush).
        self._busy = False
        self._pending: deque[tuple[bool, c.Hashable, weakref.ref[t.Any]]] = deque()
        self._records: dict[c.Hashable, _Record] = {}
        self._sender_labels: dict[t.Any, t.Any] = {}
        self._weak_senders: dict[t.Any, weakref.ref[t.Any]] = {}
        self._sends = itertools.count()
        self._tick = self._sends.__next__
        self._last_loop: tuple[tuple[str, ...], _loops.Loop | None] = ((), None)
        self._shape: tuple[str, ...] = ()
        self._sends_read = 0
        self._failures = 0
        self._muted = False
        self.receivers: dict[c.Hashable, t.Any] = {}
        """Receiver key -> receiver or weak reference. Its truth says whether
        anything is connected; its structure is not part of the API."""
        # The ANY receivers when a send needs nothing else (no receiver
        # filtered by sender, not careful); None sends through _send_routed.
        self._fast: tuple[Getter, ...] | None = ()
        self._careful = False
        self._tables: tuple[
            tuple[Getter, ...], dict[t.Any, tuple[Getter, ...]], dict[t.Any, tuple[Getter, ...]]
        ] = ((), {}, {})
        self._has_coroutines = False
        with _registry_lock:
            _registry.add(self)
        self._publish()

    # -- meta-signals -------------------------------------------------------

    @cached_property
    def receiver_connected(self) -> Signal:
        """Sent at the end of each :meth:`connect`; the sender is this signal,
        with ``receiver``, ``sender`` and ``weak`` as keyword arguments."""
        return Signal(doc="Emitted after a receiver connects.")

    @cached_property
    def receiver_disconnected(self) -> Signal:
        """Sent at the end of each explicit :meth:`disconnect`; the sender is
        this signal, with ``receiver`` and ``sender``. Not sent when a weakly
        referenced receiver or sender is collected."""
        return Signal(doc="Emitted after a receiver disconnects.")

    # -- policy and introspection ----------------------------------------------

    @property
    def policy(self) -> str:
        """``'raise'`` or ``'isolate'``; see the class documentation."""
        return self._policy

    @policy.setter
    def policy(self, value: str) -> None:
        self._policy = _check_policy(value)

    @property
    def is_muted(self) -> bool:
        """While true, :meth:`send` calls nobody and returns ``[]``."""
        return self._muted

    @is_muted.setter
    def is_muted(self, value: bool) -> None:
        with self._critical():
            self._muted = bool(value)
            self._publish()

    @property
    def name_for_logs(self) -> str:
        return getattr(self, "name", None) or f"<anonymous signal {id(self):#x}>"

    def stats(self) -> SignalStats:
        """How many times this signal was sent and how many receiver calls failed."""
        with self._critical():
            sent = next(self._sends) - self._sends_read
            self._sends_read += 1
            return SignalStats(sent=sent, failed=self._failures)

    def receiver_info(self) -> list[ReceiverInfo]:
        """The live receivers, in call order, with their senders and owners."""
        with self._critical():
            out = []
            for record in self._records.values():
                receiver = record.receiver()
                if receiver is None:
                    continue
                senders = tuple(
                    ANY if key is _ANY_KEY else self._sender_labels.get(key, key)
                    for key in record.senders
                )
                out.append(
                    ReceiverInfo(
                        receiver=receiver,
                        name=record.name,
                        senders=senders,
                        owners=record.owners(),
                        weak=record.strong is None,
                        failures=record.failures,
                    )
                )
            return out

    def owners_of(self, receiver: Receiver) -> tuple[t.Any, ...]:
        """Who connected ``receiver`` (plugin names; ``None`` for direct connects)."""
        with self._critical():
            record = self._records.get(receiver_id(receiver))
            return record.owners() if record is not None else ()

    # -- connecting ---------------------------------------------------------

    def connect(
        self, receiver: F, sender: t.Any = ANY, weak: bool = True, *, owner: t.Any = None
    ) -> F:
        """Connect ``receiver`` to be called as ``receiver(sender, **kwargs)``
        whenever this signal is sent by ``sender`` (or by anyone, for :data:`ANY`).

        Returns ``receiver``, so ``@signal.connect`` works as a decorator.
        With ``weak`` the receiver is held by a weak reference and disconnects
        itself when collected; bound methods are handled. A receiver that
        cannot be weakly referenced (a builtin) is held strongly.
        Connecting the same receiver for the same sender again changes
        nothing: it is still called once per send. ``owner`` (a plugin name)
        scopes the connection: :meth:`disconnect` with the same owner removes
        only that owner's connection.
        """
        if not callable(receiver):
            raise TypeError(
                f"cannot connect {receiver!r} to {self.name_for_logs}: it is not callable"
            )
        rid = receiver_id(receiver)
        skey = _ANY_KEY if is_any(sender) else sender_key(sender)
        with self._critical():
            self._reap_pending()
            record = self._records.get(rid)
            if record is None:
                record = _Record(qualified_name(receiver))
                record.coroutine = is_coroutine_receiver(receiver)
                self._records[rid] = record
                record.strong = receiver
            record.senders.setdefault(skey, {})[owner] = weak
            if skey is not _ANY_KEY:
                self._remember_sender(skey, sender)
            self._settle_strength(rid, record, receiver)
            self._rebuild()
        if "receiver_connected" in self.__dict__ and self.receiver_connected.receivers:
            try:
                self.receiver_connected.send(self, receiver=receiver, sender=sender, weak=weak)
            except TypeError:
                self.disconnect(receiver, sender)
                raise
        return receiver

    def connect_via(self, sender: t.Any, weak: bool = False) -> c.Callable[[F], F]:
        """Decorator: connect the function for ``sender`` (strongly by default)."""

        def decorator(fn: F) -> F:
            self.connect(fn, sender, weak)
            return fn

        return decorator

    @contextmanager
    def connected_to(self, receiver: Receiver, sender: t.Any = ANY) -> c.Iterator[None]:
        """Connect ``receiver`` strongly for the ``with`` block only.

        On exit only this block's connection is removed: a connection of the
        same receiver made elsewhere (by a plugin, say) stays.
        """
        token = _BlockOwner()
        self.connect(receiver, sender=sender, weak=False, owner=token)
        try:
            yield None
        finally:
            self.disconnect(receiver, sender, owner=token)

    @contextmanager
    def muted(self) -> c.Iterator[None]:
        """No receiver is called while the ``with`` block runs."""
        self.is_muted = True
        try:
            yield None
        finally:
            self.is_muted = False

    def disconnect(
        self, receiver: Receiver, sender: t.Any = ANY, *, owner: t.Any = _NO_OWNER_FILTER
    ) -> None:
        """Disconnect ``receiver``.

        Without ``owner`` this is blinker's disconnect: for :data:`ANY` the
        receiver is removed from every sender; for a sender, from that sender
        only. With ``owner`` only the connection that owner made for exactly
        ``sender`` is removed, and the receiver stays connected for others.
        """
        rid = receiver_id(receiver)
        skey = _ANY_KEY if is_any(sender) else sender_key(sender)
        with self._critical():
            self._reap_pending()
            record = self._records.get(rid)
            if record is not None:
                if owner is not _NO_OWNER_FILTER:
                    owners = record.senders.get(skey)
                    if owners is not None:
                        owners.pop(owner, None)
                        if not owners:
                            del record.senders[skey]
                elif skey is _ANY_KEY:
                    record.senders.clear()
                else:
                    record.senders.pop(skey, None)
                self._drop_if_empty(rid, record)
                self._rebuild()
        if "receiver_disconnected" in self.__dict__ and self.receiver_disconnected.receivers:
            self.receiver_disconnected.send(self, receiver=receiver, sender=sender)

    def _clear_state(self) -> None:
        """Disconnect every receiver and forget every sender. Useful for tests."""
        with self._critical():
            self._records.clear()
            self._sender_labels.clear()
            self._weak_senders.clear()
            self._rebuild()

    # -- sending ------------------------------------------------------------

    def send(
        self,
        sender: t.Any = None,
        /,
        *,
        _async_wrapper: c.Callable[[Receiver], Receiver] | None = None,
        **kwargs: t.Any,
    ) -> Results:
        """Call every receiver connected for ``sender`` or :data:`ANY`, in
        connection order, as ``receiver(sender, **kwargs)``.

        Returns a list of ``(receiver, return value)``. Under the 'isolate'
        policy a receiver that raises is logged and its exception is its
        return value; under 'raise' the exception propagates. A coroutine
        receiver needs ``_async_wrapper`` (blinker's rule), else RuntimeError.
        """
        # In the common state (nothing filtered by sender, nothing careful)
        # _publish installs a specialised send on the instance (see _loops),
        # which shadows this method; this generic path serves the other states
        # and shapes of keyword arguments that are not specialised.
        targets = self._fast
        if targets is None:
            return self._send_routed(sender, _async_wrapper, kwargs)
        self._tick()
        if not targets:
            return []
        results: Results = []
        append = results.append
        try:
            for getter in targets:
                receiver = getter()
                if receiver is not None:
                    append((receiver, receiver(sender, **kwargs)))
        except Exception as exc:
            self._failed(receiver, sender, exc)  # re-raises under 'raise'
            append((receiver, exc))
            return self._call_each(_after(targets, getter), sender, kwargs, results)
        return results

    def _send_routed(
        self,
        sender: t.Any,
        async_wrapper: c.Callable[[Receiver], Receiver] | None,
        kwargs: dict[str, t.Any],
    ) -> Results:
        self._tick()
        if self._careful:
            return self._send_careful(sender, async_wrapper, kwargs)
        targets, by_value, by_identity = self._tables
        kind = type(sender)
        if kind is str or kind is int:
            targets = by_value.get(sender, targets)
        else:
            by_val, key = sender_key(sender)
            targets = (by_value if by_val else by_identity).get(key, targets)
        if kwargs and len(targets) > _KEYWORD_LOOP_FROM:
            loop = self._keyword_loop(kwargs)
            if loop is not None:
                return loop(self, targets, sender, kwargs)
        return self._call_each(targets, sender, kwargs, [])

    def _send_other_shape(self, sender: t.Any, kwargs: dict[str, t.Any]) -> Results:
        """The installed send met keywords of another shape: learn it (the next
        send with it is specialised) and send generically this time."""
        names = (*kwargs,)
        with self._lock:
            if self._shape != names:
                self._shape = names
                self._publish()
            targets = self._tables[0]
        return self._call_each(targets, sender, kwargs, [])

    def _keyword_loop(self, kwargs: dict[str, t.Any]) -> _loops.Loop | None:
        """The send loop specialised for these keyword names (None: the generic one).

        The last shape used is kept on the signal, since a signal is nearly
        always sent with the same keywords.
        """
        names = (*kwargs,)
        cached = self._last_loop
        if cached[0] != names:
            cached = self._last_loop = (names, _loops.loop_for(names))
        return cached[1]

    def _call_each(
        self, targets: c.Iterable[Getter], sender: t.Any, kwargs: dict[str, t.Any], results: Results
    ) -> Results:
        append = results.append
        for getter in targets:
            receiver = getter()
            if receiver is None:
                continue
            try:
                result = receiver(sender, **kwargs)
            except Exception as exc:
                self._failed(receiver, sender, exc)
                result = exc
            append((receiver, result))
        return results

    async def send_async(
        self,
        sender: t.Any = None,
        /,
        *,
        _sync_wrapper: c.Callable[[Receiver], c.Callable[..., c.Awaitable[t.Any]]] | None = None,
        **kwargs: t.Any,
    ) -> Results:
        """Await every receiver for ``sender`` or :data:`ANY`, in connection order.

        Coroutine receivers are awaited; a plain receiver needs
        ``_sync_wrapper`` (blinker's rule), else RuntimeError. The error
        policy and the argument guard apply as in :meth:`send`.
        """
        self._tick()
        if self._muted:
            return []
        results: Results = []
        guard = _settings.guard_arguments
        for receiver in self.receivers_for(sender):
            before = snapshot_arguments(sender, kwargs) if guard else None
            if is_coroutine_receiver(receiver):
                call = receiver
            elif _sync_wrapper is None:
                raise RuntimeError("Cannot send to a non-coroutine function.")
            else:
                call = _sync_wrapper(receiver)
            try:
                result = await call(sender, **kwargs)
            except Exception as exc:
                self._failed(receiver, sender, exc)
                result = exc
            if before is not None:
                self._check_guard(receiver, sender, kwargs, before)
            results.append((receiver, result))
        return results

    def _send_careful(
        self,
        sender: t.Any,
        async_wrapper: c.Callable[[Receiver], Receiver] | None,
        kwargs: dict[str, t.Any],
    ) -> Results:
        """The send path for muted signals, coroutine receivers and the guard."""
        if self._muted:
            return []
        guard = _settings.guard_arguments
        results: Results = []
        for receiver in self.receivers_for(sender):
            before = snapshot_arguments(sender, kwargs) if guard else None
            call = receiver
            if is_coroutine_receiver(receiver):
                if async_wrapper is None:
                    raise RuntimeError("Cannot send to a coroutine function.")
                call = async_wrapper(receiver)
            try:
                result = call(sender, **kwargs)
            except Exception as exc:
                self._failed(receiver, sender, exc)
                result = exc
            if before is not None:
                self._check_guard(receiver, sender, kwargs, before)
            results.append((receiver, result))
        return results

    def _check_guard(
        self, receiver: Receiver, sender: t.Any, kwargs: dict[str, t.Any], before: dict[str, object]
    ) -> None:
        changed = changed_arguments(before, snapshot_arguments(sender, kwargs))
        if not changed:
            return
        record = self._records.get(receiver_id(receiver))
        name = record.name if record is not None else qualified_name(receiver)
        try:
            raise SignalArgumentMutated(name, self.name_for_logs, changed)
        except SignalArgumentMutated as exc:
            self._failed(receiver, sender, exc)

    def _failed(self, receiver: Receiver, sender: t.Any, exc: Exception) -> None:
        """Account for a receiver's exception; re-raise it unless isolating.

        Must be called from inside the ``except`` block that caught ``exc``.
        """
        if self._policy == RAISE or not _settings.isolate_failures:
            raise exc
        with self._critical():
            self._failures += 1
            record = self._records.get(receiver_id(receiver))
            if record is not None:
                record.failures += 1
            owned_by = record.owners() if record is not None else ()
        name = record.name if record is not None else qualified_name(receiver)
        owners = [o for o in owned_by if isinstance(o, str)]
        owned = f" (plugin {', '.join(owners)})" if owners else ""
        logger.error(
            "receiver %s%s failed on signal %s (sender %s): %s: %s",
            name,
            owned,
            self.name_for_logs,
            _short_repr(sender),
            type(exc).__name__,
            exc,
            exc_info=exc,
        )
        if self is not receiver_failed and receiver_failed.receivers:
            receiver_failed.send(
                self, receiver=receiver, sender_=sender, exception=exc, owners=tuple(owners)
            )

    # -- lookups ------------------------------------------------------------

    def _targets_for(self, sender: t.Any) -> tuple[Getter, ...]:
        targets, by_value, by_identity = self._tables
        if is_any(sender):
            return targets
        by_val, key = sender_key(sender)
        return (by_value if by_val else by_identity).get(key, targets)

    def has_receivers_for(self, sender: t.Any) -> bool:
        """Whether a send by ``sender`` would call anyone (weak receivers
        are not checked for liveness, as in blinker)."""
        return bool(self._targets_for(sender))

    def receivers_for(self, sender: t.Any) -> c.Iterator[Receiver]:
        """Yield the live receivers a send by ``sender`` would call, in order."""
        for getter in self._targets_for(sender):
            receiver = getter()
            if receiver is not None:
                yield receiver

    # -- bookkeeping (call inside _critical) ---------------------------------

    def _remember_sender(self, skey: t.Any, sender: t.Any) -> None:
        by_value = skey[0]
        self._sender_labels[skey] = sender if by_value else _short_repr(sender)
        if by_value or skey in self._weak_senders:
            return
        # A sender that cannot be weakly referenced is kept until disconnected,
        # as blinker does.
        with suppress(TypeError):
            self._weak_senders[skey] = make_ref(sender, self._sender_cleanup(skey))

    def _sender_cleanup(self, skey: t.Any) -> c.Callable[[weakref.ref[t.Any]], None]:
        def cleanup(ref: weakref.ref[t.Any]) -> None:
            if not sys.is_finalizing():
                self._pending.append((False, skey, ref))
                self._flush()

        return cleanup

    def _receiver_cleanup(self, rid: c.Hashable) -> c.Callable[[weakref.ref[t.Any]], None]:
        def cleanup(ref: weakref.ref[t.Any]) -> None:
            if not sys.is_finalizing():
                self._pending.append((True, rid, ref))
                self._flush()

        return cleanup

    @contextmanager
    def _critical(self) -> c.Iterator[None]:
        """Hold the lock for work on the bookkeeping; deaths reported meanwhile
        are queued and applied (with a rebuild) once the lock is released."""
        try:
            with self._lock:
                if self._busy:  # re-entered on this thread: the outer block flushes
                    yield None
                    return
                self._busy = True
                try:
                    yield None
                finally:
                    self._busy = False
        finally:
            self._flush()

    def _flush(self) -> None:
        """Apply queued deaths now, unless the lock's holder will.

        Every holder calls this after releasing the lock, so a death queued
        while another thread held it is never left behind.
        """
        while self._pending:
            if not self._lock.acquire(blocking=False):
                return
            try:
                if self._busy:
                    return
                self._busy = True
                try:
                    self._rebuild()
                finally:
                    self._busy = False
            finally:
                self._lock.release()

    def _reap_pending(self) -> None:
        """Forget receivers and senders whose weak references died (lock held, busy)."""
        pending = self._pending
        while pending:
            is_receiver, key, ref = pending.popleft()
            if is_receiver:
                record = self._records.get(key)
                if record is not None and record.ref is ref and record.strong is None:
                    del self._records[key]
                continue
            if self._weak_senders.get(key) is not ref:
                continue
            del self._weak_senders[key]
            self._sender_labels.pop(key, None)
            for rid, record in list(self._records.items()):
                if record.senders.pop(key, None) is not None:
                    self._drop_if_empty(rid, record)

    def _settle_strength(self, rid: c.Hashable, record: _Record, receiver: Receiver) -> None:
        """Hold the receiver strongly iff some connection asked for it."""
        if record.wants_strong():
            record.strong, record.ref = receiver, None
            record.getter = itertools.repeat(receiver).__next__
            return
        if record.ref is None:
            try:
                record.ref = make_ref(receiver, self._receiver_cleanup(rid))
            except TypeError:
                record.strong = receiver
                record.getter = itertools.repeat(receiver).__next__
                return
        record.strong = None
        record.getter = record.ref

    def _drop_if_empty(self, rid: c.Hashable, record: _Record) -> None:
        if not record.senders:
            del self._records[rid]
            return
        receiver = record.receiver()
        if receiver is not None:
            self._settle_strength(rid, record, receiver)

    def _rebuild(self) -> None:
        """Recompute the dispatch tables from the records (lock held, busy)."""
        self._reap_pending()
        keys = {k for r in self._records.values() for k in r.senders if k is not _ANY_KEY}
        any_targets: list[Getter] = []
        per_sender: dict[t.Any, list[Getter]] = {k: [] for k in keys}
        for record in self._records.values():
            if _ANY_KEY in record.senders:
                any_targets.append(record.getter)
                for lst in per_sender.values():
                    lst.append(record.getter)
            else:
                for k in record.senders:
                    per_sender[k].append(record.getter)
        by_value: dict[t.Any, tuple[Getter, ...]] = {}
        by_identity: dict[t.Any, tuple[Getter, ...]] = {}
        for (is_value, key), lst in per_sender.items():
            (by_value if is_value else by_identity)[key] = tuple(lst)
        self._tables = (tuple(any_targets), by_value, by_identity)
        self._has_coroutines = any(r.coroutine for r in self._records.values())
        self.receivers = {
            rid: (r.strong if r.strong is not None else r.ref) for rid, r in self._records.items()
        }
        self._publish()

    def _publish(self) -> None:
        """Choose the send path from the tables and switches (lock held)."""
        targets, by_value, by_identity = self._tables
        self._careful = self._muted or self._has_coroutines or _settings.guard_arguments
        self._fast = None if self._careful or by_value or by_identity else targets
        installed = None
        if self._fast is not None:
            installed = _loops.make_send(
                self,
                self._fast,
                self._tick,
                self._shape,
                self._send_other_shape,
                type(self).send.__doc__,
            )
        if installed is None:
            self.__dict__.pop("send", None)
        else:
            self.__dict__["send"] = installed


def _after(targets: tuple[Getter, ...], getter: Getter) -> tuple[Getter, ...]:
    """The targets that come after ``getter``.

    Getters are compared, not the receivers they return: a weak bound
    method's getter returns a new method object on every call.
    """
    for index, candidate in enumerate(targets):
        if candidate is getter:
            return targets[index + 1 :]
    return ()


class _BlockOwner:
    """A private owner token for :meth:`Signal.connected_to`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<connected_to block>"


def _check_policy(policy: str) -> str:
    if policy not in POLICIES:
        raise ValueError(f"unknown error policy {policy!r}; expected 'raise' or 'isolate'")
    return policy


def _short_repr(value: object, limit: int = 120) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real failure
        text = f"<{type(value).__qualname__} object>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class NamedSignal(Signal):
    """A signal with a name: the key under which its :class:`Namespace` holds it."""

    contract: Contract | None = None
    """What the signal promises its subscribers, when documented."""

    def __init__(self, name: str, doc: str | None = None, *, policy: str = RAISE) -> None:
        self.name: str = name
        super().__init__(doc, policy=policy)

    def __repr__(self) -> str:
        base = super().__repr__()
        return f"{base[:-1]}; {self.name!r}>"


class Namespace(dict[str, NamedSignal]):
    """A mapping of names to signals; :meth:`signal` makes each name a singleton."""

    _creation_lock = threading.Lock()

    def signal(
        self, name: str, doc: str | None = None, *, policy: str | None = None
    ) -> NamedSignal:
        """Return the signal called ``name``, creating it on first use.

        Every call with the same name returns the same object. ``doc`` and
        ``policy`` apply when the signal is created (a doc is also filled in
        later if the signal had none).
        """
        existing = self.get(name)
        if existing is None:
            with self._creation_lock:
                existing = self.get(name)
                if existing is None:
                    existing = NamedSignal(name, doc, policy=RAISE if policy is None else policy)
                    self[name] = existing
                    return existing
        if doc and "__doc__" not in existing.__dict__:  # not the class docstring
            existing.__doc__ = doc
        return existing


default_namespace: Namespace = Namespace()
"""The namespace behind :func:`signal`."""


def signal(name: str, doc: str | None = None, *, policy: str | None = None) -> NamedSignal:
    """The :class:`NamedSignal` called ``name`` in :data:`default_namespace`."""
    return default_namespace.signal(name, doc, policy=policy)


receiver_failed: NamedSignal = NamedSignal(
    "receiver_failed",
    doc=(
        "Sent when a receiver of an 'isolate' signal raised (or, with the argument "
        "guard on, modified its arguments). Sender: the signal whose receiver failed. "
        "Keyword arguments: receiver, sender_ (the original sender), exception, owners "
        "(names of the plugins that connected the receiver)."
    ),
    policy=ISOLATE,
)
