"""Signals: blinker's public API, with the work moved from send time to table time.

A send reads an immutable dispatch table (:class:`_Table`: the receivers for
:data:`ANY` and, for each sender that has receivers of its own, the merged
tuple for that sender) in one attribute load and walks one tuple, so a send
never takes a lock, never sorts, never builds a set and never sees a half-made
change.

Connecting and disconnecting only change the bookkeeping (one
:class:`_Record` per receiver) and mark the table stale; the next send (or
lookup) makes the table again, once, whatever the number of changes in
between. Changes that only add receivers extend the table instead of making
it again. Three cheap changes apply at once: a receiver for ANY added to a
small table of ANY receivers, the last receiver connected being collected,
and disconnecting the receiver the last change added (what a
``connected_to`` block does on exit), which puts the previous table back.
A collected receiver otherwise stays in the table (its getter returns None,
which sends skip) until the dead outnumber the living.

The send generated for a table (see :mod:`._loops`) is installed by the
second send on it, so a change undone after one send never pays for it.

Receivers are called in the order in which they were first connected.
"""

from __future__ import annotations

import collections.abc as c
import inspect
import itertools
import logging
import sys
import threading
import time
import typing as t
import weakref
from collections import deque
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from functools import partial
from inspect import CO_COROUTINE
from types import FunctionType, MethodType

from heliograph.signals import _loops, _settings
from heliograph.signals._utilities import (
    ANY,
    is_any,
    is_coroutine_receiver,
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
"""What the tables hold per receiver: a call that returns the receiver, or
None once a weakly held receiver was collected."""
Observer = c.Callable[["Signal", Receiver, float, "BaseException | None"], None]
SendObserver = c.Callable[
    ["Signal", t.Any, c.Mapping[str, t.Any]], "AbstractContextManager[t.Any] | None"
]

_KEYWORD_LOOP_FROM = 2
"""Sends to more receivers than this use a loop specialised for their keywords;
for one or two receivers choosing the loop costs more than it saves."""

RAISE = "raise"
ISOLATE = "isolate"
POLICIES = (RAISE, ISOLATE)

_ANY_KEY: tuple[str] = ("*",)
"""Bookkeeping key of the ANY sender; specific senders use ``(by_value, key)``."""

_NO_OWNER_FILTER = object()

_APPLY_AT_ONCE = 32
"""A connect that adds a receiver for ANY to a fresh table of fewer receivers
than this, all for ANY, applies at once (a tuple copy); other changes mark the
table stale, to be made once by the next send."""

_COROUTINE_MARKS = hasattr(inspect, "markcoroutinefunction")
"""Whether functions can be marked as coroutine functions (Python 3.12+): then
connect asks inspect, else it reads the code flag itself."""

Owners = tuple[tuple[t.Any, bool], ...]
"""``((owner, weak), ...)``: who made one connection, and whether weakly."""
_OWNED_BY_NOBODY = {True: ((None, True),), False: ((None, False),)}
"""The owners of a plain ``connect``, shared by every record that has them."""


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


class _Table(t.NamedTuple):
    """What a send reads: one immutable picture of who to call.

    Every tuple holds getters in the order of first connection.
    """

    any: tuple[Getter, ...]
    """The receivers connected for ANY: what a sender without receivers of its own gets."""
    by_value: dict[t.Any, tuple[Getter, ...]]
    """str and int senders (by value) -> their receivers merged with the ANY ones."""
    by_identity: dict[t.Any, tuple[Getter, ...]]
    """Other senders (by identity key) -> their receivers merged with the ANY ones."""
    coroutines: frozenset[int]
    """``id()`` of the getters whose receiver is a coroutine function."""

    # The hot paths unpack a table (``every, by_value, by_identity, coroutines
    # = table``) rather than read its fields by name: a named field is a
    # descriptor the interpreter does not specialise, an unpacking is.


class _WeakReceiver(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to a receiver that knows the receiver's key, so that
    one callback per signal serves every receiver (no closure per connect)."""

    __slots__ = ("rid",)
    rid: c.Hashable


class _WeakMethod(_WeakReceiver):
    """A weak reference to a bound method: its instance is held weakly, its
    function (which the instance's class holds anyway) strongly. Calling it
    returns a new bound method, or None once the instance was collected."""

    __slots__ = ("func",)
    func: c.Callable[..., t.Any]

    def __call__(self) -> t.Any:
        obj = _dereference(self)
        return None if obj is None else MethodType(self.func, obj)


_dereference = weakref.ref.__call__


class _WeakSender(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to a sender object that knows its bookkeeping key."""

    __slots__ = ("skey",)
    skey: t.Any


class _Record:
    """Everything known about one connected receiver."""

    __slots__ = ("coroutine", "failures", "getter", "label", "ref", "senders", "strong")

    def __init__(self, senders: dict[t.Any, Owners], coroutine: bool) -> None:
        self.senders = senders
        """sender key -> the owners of that connection."""
        self.coroutine = coroutine
        self.ref: _WeakReceiver | None = None
        self.strong: Receiver | None = None
        self.getter: Getter = _dead
        self.failures = 0
        self.label: str | None = None

    def wants_strong(self) -> bool:
        return any(not weak for owners in self.senders.values() for _, weak in owners)

    def owners(self) -> tuple[t.Any, ...]:
        seen: dict[t.Any, None] = {}
        for owners in self.senders.values():
            seen.update(dict.fromkeys(owner for owner, _ in owners))
        return tuple(seen)

    def receiver(self) -> Receiver | None:
        if self.strong is not None:
            return self.strong
        return self.ref() if self.ref is not None else None

    def name(self, receiver: Receiver) -> str:
        """The receiver's dotted name, worked out the first time it is needed."""
        if self.label is None:
            self.label = qualified_name(receiver)
        return self.label


def _dead() -> None:
    return None


def _with_owner(owners: Owners | None, owner: t.Any, weak: bool) -> Owners:
    """``owners`` with ``owner``'s connection set to ``weak`` (a new tuple)."""
    if owners is None:
        if owner is None:
            return _OWNED_BY_NOBODY[bool(weak)]
        return ((owner, bool(weak)),)
    kept = tuple(pair for pair in owners if pair[0] is not owner and pair[0] != owner)
    return (*kept, (owner, bool(weak)))


def _without_owner(owners: Owners, owner: t.Any) -> Owners:
    return tuple(pair for pair in owners if pair[0] is not owner and pair[0] != owner)


_registry: weakref.WeakSet[Signal] = weakref.WeakSet()
_registry_lock = threading.Lock()


def _refresh_all() -> None:
    """Choose every signal's send path again after a global switch changed."""
    with _registry_lock:
        signals = list(_registry)
    for sig in signals:
        with sig._lock:
            sig._publish()


_settings.on_change(_refresh_all)

_observer_failures_logged: set[int] = set()
"""``id()`` of the observers whose failure was logged (each is logged once)."""


def _observer_failed(observer: Observer | SendObserver) -> None:
    """An observer raised (called from inside the ``except`` block): log it
    the first time, and let the send go on."""
    if id(observer) in _observer_failures_logged:
        return
    _observer_failures_logged.add(id(observer))
    logger.exception(
        "signal observer %s failed; the send went on (logged once per observer)",
        qualified_name(observer),
    )


def _enter_send_observer(
    opener: SendObserver, signal: Signal, sender: t.Any, kwargs: dict[str, t.Any]
) -> AbstractContextManager[t.Any] | None:
    """Open the send observer's context for one send (None: it gave none, or failed)."""
    try:
        span = opener(signal, sender, kwargs)
        if span is not None:
            span.__enter__()
    except Exception:
        _observer_failed(opener)
        return None
    return span


def _exit_send_observer(
    opener: SendObserver, span: AbstractContextManager[t.Any] | None, error: BaseException | None
) -> None:
    """Close what :func:`_enter_send_observer` opened, telling it of ``error``.
    What the context returns is ignored: an observer never swallows an error."""
    if span is None:
        return
    try:
        if error is None:
            span.__exit__(None, None, None)
        else:
            span.__exit__(type(error), error, error.__traceback__)
    except Exception:
        _observer_failed(opener)


def _observe(
    observer: Observer,
    signal: Signal,
    receiver: Receiver,
    started: float,
    error: BaseException | None,
) -> None:
    try:
        observer(signal, receiver, time.perf_counter() - started, error)
    except Exception:
        _observer_failed(observer)


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
        # Guards the bookkeeping and the making of tables; a send only takes
        # it to make a stale table again. Reentrant: a finalizer run by an
        # allocation inside may connect or disconnect.
        self._lock = threading.RLock()
        self._records: dict[c.Hashable, _Record] = {}
        self._senders: dict[t.Any, tuple[t.Any, _WeakSender | None]] = {}
        """Sender key -> (the sender, or its short repr for a sender kept by
        identity; the weak reference watching it, if any)."""
        # Weak references of collected receivers and senders, queued by their
        # callbacks (which never take the lock: an object can die at any
        # allocation, also while this thread holds it) and applied under the
        # lock before the bookkeeping is read or changed.
        self._pending: deque[_WeakReceiver | _WeakSender] = deque()
        self._senders_died = 0
        """Sender deaths queued in _pending: they make the table stale."""
        self._dead_in_table = 0
        """Getters of collected receivers still in the table. They return
        None, which every send skips, so a death needs no new table; the
        table is made again once they outnumber the living."""
        # A receiver's death is queued by the deque's own append (one C call,
        # no Python frame in the weak reference's callback) and applied under
        # the lock by the next connect, disconnect or lookup. The table stays
        # meanwhile: the dead receiver's getter returns None, which sends skip.
        self._on_receiver_death = self._pending.append
        self._on_sender_death = self._sender_died
        self._meta: tuple[Signal, Signal] | None = None
        """The meta-signals (connected, disconnected), once either is asked for."""
        self._installed: object | None = None
        """The token of the generated send installed on the instance (its
        ``send`` attribute), if any: a send kept by a caller after it was
        replaced compares it with its own and hands the call over."""
        # The table and how stale it is.
        # Its sender dicts belong to this signal: _extended_table changes them.
        self._table = _Table((), {}, {}, frozenset())
        self._dirty = False
        """The table misses changes: the next send or lookup makes it again."""
        self._appended: list[_Record] | None = []
        """New receivers not yet in the table, when that is all that changed;
        None after some other change: the table is made from scratch."""
        self._changes = 0
        """Counts connects and disconnects; a table made while it moved is stale."""
        self._undo: tuple[_Record, _Table, _Published | None] | None = None
        """The receiver the last change added, the table from before it and
        what was published for it (when known): disconnecting that receiver
        next puts them back (``connected_to`` does)."""
        self._receivers_view: dict[c.Hashable, t.Any] | None = None
        # Sends are counted by drawing from an itertools.count: its __next__
        # is one C call, atomic under the GIL, so sends from many threads
        # count exactly without a lock. See stats() for reading it.
        self._count_send = itertools.count().__next__
        self._counts = [0, 0]
        """The stats() calls so far (each draws from the send count) and the
        failed receiver calls."""
        self._muted = False
        self._kwarg_names: tuple[str, ...] = ()
        """The keyword names the installed send is specialised for: the names
        of the last send that came with others (see _send_other_shape)."""
        self._plain: tuple[Getter, ...] | None = ()
        """The ANY receivers when a send needs nothing else: every receiver is
        for any sender, nothing is checked per call and the table is fresh.
        None sends through _send_routed."""
        self._needs_checks = False
        """Muted, a coroutine receiver, or the argument guard on: the send
        takes _send_checked, which handles them per receiver call."""
        self._provisional = 0
        """How many sends to go before the send generated for a table just
        made is installed (by _send_routed): 2 after a change applied at once,
        1 after a table made by a send. A change undone after one send (a
        short-lived receiver) never pays for generating a send."""
        self._published: _Published | None = None
        with _registry_lock:
            _registry.add(self)
        self._publish()

    # Every attribute is set in __init__, in the same order, and none is ever
    # read or written through the instance's __dict__: instances then share
    # their attribute keys (CPython keeps at most 30 shared keys per class,
    # counting NamedSignal's name, an installed send and a docstring), so
    # attribute reads and method calls on a signal stay specialised.

    _specialise = True
    """Only a class that keeps the base send gets the generated one installed
    on the instance: a subclass's own send is always called."""

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._specialise = cls.send is Signal.send

    # -- meta-signals -------------------------------------------------------

    def _meta_signals(self) -> tuple[Signal, Signal]:
        meta = self._meta
        if meta is None:
            with self._lock:
                meta = self._meta
                if meta is None:
                    meta = self._meta = (
                        Signal(doc="Emitted after a receiver connects."),
                        Signal(doc="Emitted after a receiver disconnects."),
                    )
        return meta

    @property
    def receiver_connected(self) -> Signal:
        """Sent at the end of each :meth:`connect`; the sender is this signal,
        with ``receiver``, ``sender`` and ``weak`` as keyword arguments."""
        return self._meta_signals()[0]

    @property
    def receiver_disconnected(self) -> Signal:
        """Sent at the end of each explicit :meth:`disconnect`; the sender is
        this signal, with ``receiver`` and ``sender``. Not sent when a weakly
        referenced receiver or sender is collected."""
        return self._meta_signals()[1]

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
        with self._lock:
            self._muted = bool(value)
            self._publish()

    @property
    def name_for_logs(self) -> str:
        return getattr(self, "name", None) or f"<anonymous signal {id(self):#x}>"

    @property
    def receivers(self) -> dict[c.Hashable, t.Any]:
        """Receiver key -> receiver or weak reference. Its truth says whether
        anything is connected; its structure is not part of the API."""
        view = self._receivers_view
        if view is None or self._pending:
            with self._lock:
                self._reap_pending()
                view = self._receivers_view = {
                    rid: (r.strong if r.strong is not None else r.ref)
                    for rid, r in self._records.items()
                }
        return view

    def stats(self) -> SignalStats:
        """How many times this signal was sent and how many receiver calls failed."""
        with self._lock:
            # The count can only be read by drawing from it, so what it gives
            # is the sends plus the draws earlier stats() calls made.
            drawn = self._count_send()
            counts = self._counts
            sent = drawn - counts[0]
            counts[0] += 1
            return SignalStats(sent=sent, failed=counts[1])

    def receiver_info(self) -> list[ReceiverInfo]:
        """The live receivers, in call order, with their senders and owners."""
        with self._lock:
            self._reap_pending()
            out = []
            for record in self._records.values():
                receiver = record.receiver()
                if receiver is None:
                    continue
                senders = tuple(
                    ANY if key is _ANY_KEY else self._senders.get(key, (key,))[0]
                    for key in record.senders
                )
                out.append(
                    ReceiverInfo(
                        receiver=receiver,
                        name=record.name(receiver),
                        senders=senders,
                        owners=record.owners(),
                        weak=record.strong is None,
                        failures=record.failures,
                    )
                )
            return out

    def owners_of(self, receiver: Receiver) -> tuple[t.Any, ...]:
        """Who connected ``receiver`` (plugin names; ``None`` for direct connects)."""
        with self._lock:
            self._reap_pending()
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
        kind = type(receiver)
        if kind is FunctionType:
            rid: c.Hashable = id(receiver)
        elif kind is MethodType:
            method: t.Any = receiver
            func, instance = method.__func__, method.__self__
            rid = (id(func), id(instance))  # as receiver_id does
        else:
            rid = receiver_id(receiver)
        skey = _ANY_KEY if sender is ANY or is_any(sender) else sender_key(sender)
        with self._lock:
            cut = self._reap_pending(publish=False) if self._pending else False
            record = self._records.get(rid)
            if record is None:
                weakly = bool(weak)
                owners = _OWNED_BY_NOBODY[weakly] if owner is None else ((owner, weakly),)
                if kind is FunctionType and not _COROUTINE_MARKS:
                    coroutine = bool(receiver.__code__.co_flags & CO_COROUTINE)
                elif kind is MethodType and type(func) is FunctionType and not _COROUTINE_MARKS:
                    coroutine = bool(func.__code__.co_flags & CO_COROUTINE)
                else:
                    coroutine = is_coroutine_receiver(receiver)
                record = _Record({skey: owners}, coroutine)
                if kind is MethodType and weak:  # _hold's commonest case, inline
                    try:
                        ref = _WeakMethod(instance, self._on_receiver_death)
                    except TypeError:  # the instance cannot be weakly referenced
                        self._hold(rid, record, receiver, weak)
                    else:
                        ref.func = func
                        ref.rid = rid
                        record.ref = record.getter = ref
                else:
                    self._hold(rid, record, receiver, weak)
                self._records[rid] = record
                table = self._table
                if self._dirty:
                    self._stale(rebuild_all=False)
                    appended = self._appended
                    if appended is not None:
                        appended.append(record)
                else:
                    undo = (record, table, self._published)
                    every, by_value, by_identity, coroutines = table
                    if (
                        skey is _ANY_KEY
                        and not coroutine
                        and len(every) < _APPLY_AT_ONCE
                        and not (by_value or by_identity)
                    ):
                        self._publish_small_change(
                            _new_table(((*every, record.getter), by_value, by_identity, coroutines))
                        )
                    else:
                        self._stale(rebuild_all=False)
                        appended = self._appended
                        if appended is not None:
                            appended.append(record)
                    self._undo = undo
            else:
                before = record.senders.get(skey)
                record.senders[skey] = after = _with_owner(before, owner, weak)
                if after != before:
                    was_strong = record.strong is not None
                    if before is None or was_strong != record.wants_strong():
                        self._settle_strength(rid, record, receiver)
                        self._stale(rebuild_all=True)
                if cut and not self._dirty:  # the table the reaping cut is published
                    self._publish_small_change(self._table)
            if skey is not _ANY_KEY:
                self._remember_sender(skey, sender)
        meta = self._meta
        if meta is not None and meta[0]._records:
            try:
                meta[0].send(self, receiver=receiver, sender=sender, weak=weak)
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

    def connected_to(self, receiver: Receiver, sender: t.Any = ANY) -> AbstractContextManager[None]:
        """Connect ``receiver`` strongly for the ``with`` block only.

        On exit only this block's connection is removed: a connection of the
        same receiver made elsewhere (by a plugin, say) stays.
        """
        return _ConnectedTo(self, receiver, sender)

    def _connect_for_block(self, receiver: Receiver, sender: t.Any) -> _Record | None:
        """``connected_to``'s connect in the common case: a new receiver for
        ANY on a signal whose receivers are all for ANY, nothing checked per
        call, nobody listening to the meta-signals. The table with the
        receiver appended is published at once (the block is about to send)
        and what was published before is kept to be put back at the end.
        None when the case is not that one (the block connects as usual)."""
        if (
            sender is not ANY
            or self._meta is not None
            or type(receiver) is not FunctionType
            or _COROUTINE_MARKS
            or receiver.__code__.co_flags & CO_COROUTINE
        ):
            return None
        rid = id(receiver)
        with self._lock:
            table = self._table
            every, by_value, by_identity, coroutines = table
            if (
                self._dirty
                or self._pending
                or self._needs_checks
                or by_value
                or by_identity
                or rid in self._records
            ):
                return None
            before = self._snapshot()  # kept: the block will put it back
            record = _Record({_ANY_KEY: _BLOCK_OWNERS}, False)
            record.strong = receiver  # held strongly, reached weakly: see _hold
            record.getter = getter = weakref.ref(receiver)
            self._records[rid] = record
            every = (*every, getter)
            self._table = _new_table((every, by_value, by_identity, coroutines))
            self._changes += 1
            self._published = None
            self._receivers_view = None
            self._provisional = 0
            self._plain = None if _settings.receiver_observer is not None else every
            if self._installed is not None:
                self._uninstall()
            self._undo = (record, table, before)
            return record

    def _end_block(self, record: _Record, receiver: Receiver) -> bool:
        """End a block connected by _connect_for_block: put back what was
        published before it, unless something changed since (then False:
        the block disconnects as usual)."""
        with self._lock:
            undo = self._undo
            if undo is None or undo[0] is not record or self._pending:
                return False
            del self._records[id(receiver)]
            self._put_back(undo[1], undo[2])
        return True

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
        rid = id(receiver) if type(receiver) is FunctionType else receiver_id(receiver)
        skey = _ANY_KEY if sender is ANY or is_any(sender) else sender_key(sender)
        with self._lock:
            if self._pending:
                self._reap_pending()
            record = self._records.get(rid)
            if record is not None and self._drop_connection(record, skey, owner):
                if record.senders:
                    self._settle_strength(rid, record, record.receiver())
                    self._stale(rebuild_all=True)
                else:
                    del self._records[rid]
                    undo = self._undo
                    if undo is not None and undo[0] is record and not self._pending:
                        self._put_back(undo[1], undo[2])
                    else:
                        self._stale(rebuild_all=True)
        meta = self._meta
        if meta is not None and meta[1]._records:
            meta[1].send(self, receiver=receiver, sender=sender)

    def _drop_connection(self, record: _Record, skey: t.Any, owner: t.Any) -> bool:
        """Remove what :meth:`disconnect` asked for; whether anything was."""
        senders = record.senders
        if owner is not _NO_OWNER_FILTER:
            owners = senders.get(skey)
            if owners is None:
                return False
            if len(owners) == 1:  # the common case, without building a tuple
                if owners[0][0] is not owner and owners[0][0] != owner:
                    return False
                del senders[skey]
                return True
            kept = _without_owner(owners, owner)
            if len(kept) == len(owners):
                return False
            if kept:
                senders[skey] = kept
            else:
                del senders[skey]
            return True
        if skey is _ANY_KEY:
            senders.clear()
            return True
        return senders.pop(skey, None) is not None

    def _clear_state(self) -> None:
        """Disconnect every receiver and forget every sender. Useful for tests."""
        with self._lock:
            self._records.clear()
            self._senders.clear()
            self._stale(rebuild_all=True)

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
        # In the common state (nothing filtered by sender, nothing checked per
        # call) _publish installs a send generated for the signal's receivers
        # on the instance (see _loops), which shadows this method; this one
        # serves the other states, subclasses, and calls through the class.
        targets = self._plain
        if targets is None:
            return self._send_routed(sender, _async_wrapper, kwargs)
        if self._provisional:  # a table just made: its generated send comes later
            if self._provisional > 1:
                self._provisional = 1
            else:
                return self._send_routed(sender, _async_wrapper, kwargs)
        self._count_send()
        return _call_any_shape(self, targets, sender, kwargs)

    def _send_routed(
        self,
        sender: t.Any,
        async_wrapper: c.Callable[[Receiver], Receiver] | None,
        kwargs: dict[str, t.Any],
    ) -> Results:
        self._count_send()
        if self._dirty:
            self._refresh()
        elif self._provisional:
            if self._provisional > 1:
                self._provisional = 1
            else:
                with self._lock:
                    if self._provisional and not self._dirty:
                        self._kwarg_names = (*kwargs,)  # the shape it is sent with
                        self._publish()
        table = self._table
        if self._needs_checks or _settings.receiver_observer is not None:
            targets = _targets_in(table, sender)
            return self._send_checked(table, targets, sender, async_wrapper, kwargs)
        kind = type(sender)
        if kind is str or kind is int:
            targets = table.by_value.get(sender, table.any)
        else:
            by_value, key = sender_key(sender)
            targets = (table.by_value if by_value else table.by_identity).get(key, table.any)
        if kwargs and len(targets) > _KEYWORD_LOOP_FROM:
            loop = self._keyword_loop(kwargs)
            if loop is not None:
                return loop(self, targets, sender, kwargs)
        return _call_any_shape(self, targets, sender, kwargs)

    def _send_other_shape(self, sender: t.Any, kwargs: dict[str, t.Any]) -> Results:
        """The installed send met keywords of another shape: learn it (the next
        send with it is specialised) and send generically this time."""
        names = (*kwargs,)
        with self._lock:
            if self._kwarg_names != names:
                self._kwarg_names = names
                self._publish()
            table = self._table
        if _settings.receiver_observer is not None:
            return self._send_checked(table, table.any, sender, None, kwargs)
        return self._call_each(table.any, sender, kwargs)

    def _keyword_loop(self, kwargs: dict[str, t.Any]) -> _loops.Loop | None:
        """The send loop specialised for these keyword names (None: the generic one)."""
        return _loops.loop_for((*kwargs,))

    def _call_each(
        self, targets: tuple[Getter, ...], sender: t.Any, kwargs: dict[str, t.Any]
    ) -> Results:
        """Call ``targets`` with ``**kwargs``, whatever their names."""
        return _call_any_shape(self, targets, sender, kwargs)

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
        policy, the argument guard and the receiver observer apply as in
        :meth:`send`.
        """
        self._count_send()
        if self._muted:
            return []
        if self._dirty:
            self._refresh()
        table = self._table
        every, by_value, by_identity, coroutines = table
        targets = _targets_in(table, sender) if by_value or by_identity else every
        if _settings.observed:
            return await self._send_async_checked(table, targets, sender, _sync_wrapper, kwargs)
        results: Results = []
        for getter in targets:
            receiver = getter()
            if receiver is None:
                continue
            if id(getter) in coroutines:
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
            results.append((receiver, result))
        return results

    async def _send_async_checked(
        self,
        table: _Table,
        targets: tuple[Getter, ...],
        sender: t.Any,
        sync_wrapper: c.Callable[[Receiver], c.Callable[..., c.Awaitable[t.Any]]] | None,
        kwargs: dict[str, t.Any],
    ) -> Results:
        """send_async with the argument guard or an observer on."""
        opener = _settings.send_observer
        if opener is None:
            return await self._await_checked(table, targets, sender, sync_wrapper, kwargs)
        span = _enter_send_observer(opener, self, sender, kwargs)
        try:
            results = await self._await_checked(table, targets, sender, sync_wrapper, kwargs)
        except BaseException as exc:
            _exit_send_observer(opener, span, exc)
            raise
        _exit_send_observer(opener, span, None)
        return results

    async def _await_checked(
        self,
        table: _Table,
        targets: tuple[Getter, ...],
        sender: t.Any,
        sync_wrapper: c.Callable[[Receiver], c.Callable[..., c.Awaitable[t.Any]]] | None,
        kwargs: dict[str, t.Any],
    ) -> Results:
        coroutines = table.coroutines
        guard = _settings.guard_arguments
        observer = _settings.receiver_observer
        results: Results = []
        for getter in targets:
            receiver = getter()
            if receiver is None:
                continue
            if id(getter) in coroutines:
                call = receiver
            elif sync_wrapper is None:
                raise RuntimeError("Cannot send to a non-coroutine function.")
            else:
                call = sync_wrapper(receiver)
            before = snapshot_arguments(sender, kwargs) if guard else None
            started = time.perf_counter() if observer is not None else 0.0
            try:
                result = await call(sender, **kwargs)
            except BaseException as exc:
                if observer is not None:
                    _observe(observer, self, receiver, started, exc)
                if not isinstance(exc, Exception):
                    raise
                self._failed(receiver, sender, exc)
                result = exc
            else:
                if observer is not None:
                    _observe(observer, self, receiver, started, None)
            if before is not None:
                self._check_guard(receiver, sender, kwargs, before)
            results.append((receiver, result))
        return results

    def _send_checked(
        self,
        table: _Table,
        targets: tuple[Getter, ...],
        sender: t.Any,
        async_wrapper: c.Callable[[Receiver], Receiver] | None,
        kwargs: dict[str, t.Any],
    ) -> Results:
        """The send for muted signals, coroutine receivers, the argument guard
        and the observers: the checks each receiver call needs."""
        if self._muted:
            return []
        opener = _settings.send_observer
        if opener is None:
            return self._call_checked(table, targets, sender, async_wrapper, kwargs)
        span = _enter_send_observer(opener, self, sender, kwargs)
        try:
            results = self._call_checked(table, targets, sender, async_wrapper, kwargs)
        except BaseException as exc:
            _exit_send_observer(opener, span, exc)
            raise
        _exit_send_observer(opener, span, None)
        return results

    def _call_checked(
        self,
        table: _Table,
        targets: tuple[Getter, ...],
        sender: t.Any,
        async_wrapper: c.Callable[[Receiver], Receiver] | None,
        kwargs: dict[str, t.Any],
    ) -> Results:
        coroutines = table.coroutines
        guard = _settings.guard_arguments
        observer = _settings.receiver_observer
        results: Results = []
        for getter in targets:
            receiver = getter()
            if receiver is None:
                continue
            call = receiver
            if id(getter) in coroutines:
                if async_wrapper is None:
                    raise RuntimeError("Cannot send to a coroutine function.")
                call = async_wrapper(receiver)
            before = snapshot_arguments(sender, kwargs) if guard else None
            started = time.perf_counter() if observer is not None else 0.0
            try:
                result = call(sender, **kwargs)
            except BaseException as exc:
                if observer is not None:
                    _observe(observer, self, receiver, started, exc)
                if not isinstance(exc, Exception):
                    raise
                self._failed(receiver, sender, exc)
                result = exc
            else:
                if observer is not None:
                    _observe(observer, self, receiver, started, None)
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
        name = record.name(receiver) if record is not None else qualified_name(receiver)
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
        with self._lock:
            self._counts[1] += 1
            record = self._records.get(receiver_id(receiver))
            if record is not None:
                record.failures += 1
            owned_by = record.owners() if record is not None else ()
        name = record.name(receiver) if record is not None else qualified_name(receiver)
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
        if self is not receiver_failed and receiver_failed._records:
            receiver_failed.send(
                self, receiver=receiver, sender_=sender, exception=exc, owners=tuple(owners)
            )

    # -- lookups ------------------------------------------------------------

    def _fresh_table(self) -> _Table:
        """The table, made again first if a change made it stale."""
        if self._dirty:
            self._refresh()
        return self._table

    def _targets_for(self, sender: t.Any) -> tuple[Getter, ...]:
        return _targets_in(self._fresh_table(), sender)

    def has_receivers_for(self, sender: t.Any) -> bool:
        """Whether a send by ``sender`` would call anyone."""
        targets = self._targets_for(sender)
        if targets and (self._dead_in_table or self._pending):
            return any(getter() is not None for getter in targets)
        return bool(targets)

    def receivers_for(self, sender: t.Any) -> c.Iterator[Receiver]:
        """Yield the live receivers a send by ``sender`` would call, in order."""
        for getter in self._targets_for(sender):
            receiver = getter()
            if receiver is not None:
                yield receiver

    # -- bookkeeping (lock held) ----------------------------------------------

    def _hold(self, rid: c.Hashable, record: _Record, receiver: Receiver, weak: bool) -> None:
        """Hold a new record's receiver weakly or strongly, as asked."""
        if weak:
            try:
                ref: _WeakReceiver
                if type(receiver) is MethodType:
                    method = _WeakMethod(receiver.__self__, self._on_receiver_death)
                    method.func = receiver.__func__
                    ref = method
                else:
                    ref = _WeakReceiver(receiver, self._on_receiver_death)
            except TypeError:  # cannot be weakly referenced: held strongly, as in blinker
                pass
            else:
                ref.rid = rid
                record.ref = record.getter = ref
                return
        # The record holds the receiver; the tables only reach it through a
        # plain weak reference (a C call, as fast as the weak getters), so a
        # table made before a disconnect never keeps a receiver alive.
        record.strong = receiver
        try:
            record.getter = weakref.ref(receiver)
        except TypeError:
            record.getter = itertools.repeat(receiver).__next__

    def _settle_strength(self, rid: c.Hashable, record: _Record, receiver: Receiver | None) -> None:
        """Hold the receiver strongly iff some connection asked for it."""
        if receiver is None:  # collected meanwhile: its death is queued
            return
        wants_strong = record.wants_strong()
        if wants_strong == (record.strong is not None):
            return
        record.strong, record.ref = None, None
        self._hold(rid, record, receiver, weak=not wants_strong)

    def _remember_sender(self, skey: t.Any, sender: t.Any) -> None:
        by_value = skey[0]
        if by_value:
            self._senders[skey] = (sender, None)
            return
        known = self._senders.get(skey)
        if known is not None and known[1] is not None:
            return  # watched already
        label = _short_repr(sender)
        # A sender that cannot be weakly referenced is kept until disconnected,
        # as blinker does.
        target = sender.__self__ if type(sender) is MethodType else sender
        try:
            watcher = _WeakSender(target, self._on_sender_death)
        except TypeError:
            self._senders[skey] = (label, None)
            return
        watcher.skey = skey
        self._senders[skey] = (label, watcher)

    def _sender_died(self, ref: _WeakSender) -> None:
        """Weak reference callback: queue the death; the table is stale.

        The death is also applied at once when the lock is free: dropping a
        sender's connections may leave a receiver held weakly only, and it
        should be collectable from now on, as when it is disconnected.
        """
        if sys.is_finalizing():
            return
        self._senders_died += 1
        self._pending.append(ref)
        self._stale_unlocked()
        lock = self._lock
        if lock._is_owned() or not lock.acquire(blocking=False):  # type: ignore[attr-defined]
            return  # this thread is inside the bookkeeping, or another one: queued
        try:
            self._reap_pending()
        finally:
            lock.release()

    def _reap_pending(self, *, publish: bool = True) -> bool:
        """Forget receivers and senders whose weak references died.

        With ``publish=False`` (a connect about to publish a table itself) a
        table cut short is only made the base of the next one; the return
        value says whether one was (the caller then publishes it)."""
        cut_unpublished = False
        pending = self._pending
        while pending:
            ref = pending.popleft()
            if isinstance(ref, _WeakSender):
                self._senders_died -= 1
                skey = ref.skey
                known = self._senders.get(skey)
                if known is None or known[1] is not ref:
                    continue
                del self._senders[skey]
                for rid, record in list(self._records.items()):
                    if record.senders.pop(skey, None) is None:
                        continue
                    if record.senders:
                        self._settle_strength(rid, record, record.receiver())
                    else:
                        del self._records[rid]
                self._stale(rebuild_all=True)
                continue
            dead = self._records.get(ref.rid)
            if dead is None or dead.ref is not ref:
                continue
            del self._records[ref.rid]
            self._receivers_view = None
            appended = self._appended
            every, by_value, by_identity, coroutines = self._table
            if appended and appended[-1] is dead:  # never reached the table
                appended.pop()
            elif (
                every
                and every[-1] is dead.getter
                and not (dead.coroutine or by_value or by_identity)
            ):  # the last one connected died first: cut it off the table
                cut = _new_table((every[:-1], by_value, by_identity, coroutines))
                if self._dirty:
                    self._table = cut  # the base of the next table
                elif publish:
                    self._publish_small_change(cut)
                else:
                    self._table = cut
                    self._changes += 1
                    self._published = None
                    self._undo = None
                    cut_unpublished = True
            else:
                self._dead_in_table += 1
                if self._dead_in_table > 4 and self._dead_in_table > len(self._records):
                    self._stale(rebuild_all=True)
        return cut_unpublished and not self._dirty

    def _stale_unlocked(self) -> None:
        """Route sends to _send_routed, which makes the table again first.

        Safe without the lock: each step only makes sends take the slower,
        locked path, and _refresh checks for queued deaths after publishing.
        """
        self._dirty = True
        self._plain = None
        if self._installed is not None:
            self._uninstall()
        self._receivers_view = None
        self._undo = None
        self._published = None

    def _publish_small_change(self, table: _Table) -> None:
        """Publish at once a table that differs from the fresh one by a
        receiver for ANY at its end (lock held): cheaper than marking it stale
        and making it on the next send. Switches are as at the last publish."""
        self._table = table
        self._changes += 1
        self._published = None
        self._receivers_view = None
        self._undo = None
        if self._installed is not None:
            self._uninstall()
        observed = _settings.receiver_observer is not None
        self._provisional = 2 if self._specialise and not self._needs_checks else 0
        self._plain = None if self._needs_checks or observed else table[0]  # its ANY receivers
        if self._senders_died:  # a sender died meanwhile: stay on the locked path
            self._stale_unlocked()

    def _stale(self, *, rebuild_all: bool) -> None:
        """Mark the table stale after a change (lock held)."""
        if not self._dirty:
            self._dirty = True
            self._plain = None
            if self._installed is not None:
                self._uninstall()
            self._published = None
        self._receivers_view = None
        self._undo = None
        self._changes += 1
        if rebuild_all:
            self._appended = None  # a table from scratch has them all

    def _refresh(self) -> None:
        """Make the table again from the bookkeeping and publish it, once for
        all the changes since the last time."""
        with self._lock:
            while self._dirty:
                changes = self._changes
                if self._pending:
                    self._reap_pending()
                appended, self._appended = self._appended, []
                every, by_value, by_identity, coroutines = self._table
                if appended is None:
                    self._table = self._build_table()
                    self._dirty = False
                    self._publish(install=False)
                elif (
                    len(appended) == 1
                    and not (by_value or by_identity)
                    and not appended[0].coroutine
                    and _ANY_KEY in appended[0].senders
                ):  # one more receiver for ANY, the common change: published as
                    # _publish(install=False) would, the switches being the same
                    every = (*every, appended[0].getter)
                    self._table = _new_table((every, by_value, by_identity, coroutines))
                    self._dirty = False
                    self._provisional = 1 if self._specialise and not self._needs_checks else 0
                    observed = _settings.receiver_observer is not None
                    self._plain = None if self._needs_checks or observed else every
                    if self._senders_died:
                        self._stale_unlocked()
                else:
                    if appended:
                        self._table = self._extended_table(appended)
                    self._dirty = False
                    self._publish(install=False)
                if self._changes != changes:  # changed by a finalizer meanwhile
                    self._stale(rebuild_all=True)

    def _build_table(self) -> _Table:
        """The table for the records, from scratch."""
        self._dead_in_table = 0
        every: list[Getter] = []
        per_sender: dict[t.Any, list[Getter]] = {}
        coroutines = []
        for record in list(self._records.values()):
            getter = record.getter
            if record.coroutine:
                coroutines.append(id(getter))
            if _ANY_KEY in record.senders:
                every.append(getter)
                for getters in per_sender.values():
                    getters.append(getter)
                continue
            for skey in record.senders:
                own = per_sender.get(skey)
                if own is None:
                    # a sender's own list starts with the ANY receivers before it
                    per_sender[skey] = own = list(every)
                own.append(getter)
        by_value: dict[t.Any, tuple[Getter, ...]] = {}
        by_identity: dict[t.Any, tuple[Getter, ...]] = {}
        for (is_value, key), getters in per_sender.items():
            (by_value if is_value else by_identity)[key] = tuple(getters)
        return _new_table((tuple(every), by_value, by_identity, frozenset(coroutines)))

    def _extended_table(self, appended: list[_Record]) -> _Table:
        """The table with receivers connected after everything in it.

        They come last in every tuple they belong to, so the order holds.
        The sender dicts are changed in place (a send reads one entry, which
        is replaced whole) unless the previous table is kept for undoing.
        """
        every, by_value, by_identity, coroutines = self._table
        if self._undo is not None and (by_value or by_identity or len(appended) > 1):
            by_value, by_identity = dict(by_value), dict(by_identity)
        added_coroutines = []
        for record in appended:
            getter = record.getter
            if record.coroutine:
                added_coroutines.append(id(getter))
            if _ANY_KEY in record.senders:
                every = (*every, getter)
                for table in (by_value, by_identity):
                    for key, getters in table.items():
                        table[key] = (*getters, getter)
                continue
            if self._undo is not None:
                by_value, by_identity = dict(by_value), dict(by_identity)
            for is_value, key in record.senders:
                table = by_value if is_value else by_identity
                table[key] = (*table.get(key, every), getter)
        if added_coroutines:
            coroutines = coroutines.union(added_coroutines)
        return _new_table((every, by_value, by_identity, coroutines))

    def _put_back(self, table: _Table, before: _Published | None) -> None:
        """Disconnecting the receiver the last change added: publish again
        the table from before that change, and what was chosen for it (when
        known and the switches are the same)."""
        self._changes += 1
        self._undo = None
        self._appended = []
        self._receivers_view = None
        self._table = table
        self._dirty = False
        if before is None:
            self._publish(install=False)
            return
        inputs = before.inputs
        if (
            inputs[0] == self._kwarg_names
            and inputs[1] is _settings.receiver_observer
            and inputs[2] is _settings.guard_arguments
            and inputs[3] is self._muted
            and inputs[4] is _settings.send_observer
        ):
            self._restore(before)
        else:
            self._publish(install=False)

    def _publish_inputs(self) -> tuple[t.Any, ...]:
        """Everything besides the table that the choice of send depends on."""
        return (
            self._kwarg_names,
            _settings.receiver_observer,
            _settings.guard_arguments,
            self._muted,
            _settings.send_observer,
        )

    def _publish(self, *, install: bool = True) -> None:
        """Choose the send path from the table and the switches (lock held).

        ``install=False`` leaves generating the send to the next send (see
        ``_provisional``).
        """
        table = self._table
        observer = _settings.receiver_observer
        needs_checks = (
            self._muted
            or bool(table.coroutines)
            or _settings.guard_arguments
            or _settings.send_observer is not None
        )
        self._needs_checks = needs_checks
        self._published = None  # made by _snapshot when an undo needs it
        plain = None
        if not (self._dirty or needs_checks or table.by_value or table.by_identity):
            plain = table.any
        installed = None
        self._provisional = 0
        if plain is not None and self._specialise:
            if install:
                changes = self._changes
                installed = _loops.make_send(
                    self,
                    plain,
                    self._count_send,
                    self._kwarg_names,
                    self._send_other_shape,
                    Signal.send.__doc__,
                    observer,
                    _observer_failed,
                )
                if self._changes != changes:
                    # A finalizer run by the allocations of make_send (the lock
                    # is reentrant) changed the receivers, and published or
                    # marked stale what is current: this send is for a table
                    # that is gone, and nothing of it may be kept.
                    return
            else:
                self._provisional = 1  # the next send installs it
        self._plain = None if observer is not None else plain  # _send_routed times calls
        if installed is None:
            if self._installed is not None:
                self._uninstall()
        else:
            self.send = installed  # type: ignore[method-assign]
            self._installed = installed.token  # type: ignore[attr-defined]
        if self._senders_died:  # a sender died meanwhile: stay on the locked path
            self._stale_unlocked()

    def _uninstall(self) -> None:
        """Take the generated send off the instance: the class's send serves."""
        self._installed = None
        try:  # noqa: SIM105 - contextlib.suppress would cost three Python frames
            del self.send
        except AttributeError:  # taken off already, by a finalizer on another thread
            pass

    def _snapshot(self) -> _Published:
        """What is published now, to be put back by an undo."""
        published = self._published
        if published is None:
            published = self._published = _new_published(
                (
                    self._table,
                    self._publish_inputs(),
                    self._plain,
                    self._needs_checks,
                    self._provisional,
                    # the installed send, from the instance (never through
                    # __dict__: on CPython 3.11 that would make the instance's
                    # attributes a dict of their own, slower to read ever after)
                    self.send if self._installed is not None else None,
                )
            )
        return published

    def _restore(self, published: _Published) -> None:
        self._published = published
        self._needs_checks = published.needs_checks
        self._provisional = published.provisional
        self._plain = published.plain
        if published.installed is None:
            if self._installed is not None:
                self._uninstall()
        else:
            self.send = published.installed  # type: ignore[method-assign]
            self._installed = published.installed.token  # type: ignore[attr-defined]
        if self._senders_died:  # a sender died meanwhile: stay on the locked path
            self._stale_unlocked()


_new_table = t.cast(c.Callable[[tuple[t.Any, ...]], _Table], partial(tuple.__new__, _Table))
"""Make a _Table from a tuple of its fields in one C call (no Python __new__)."""


class _Published(t.NamedTuple):
    """What _publish chose for a table: kept to be put back by an undo."""

    table: _Table
    inputs: tuple[t.Any, ...]
    """The switches and keyword names it was chosen for (see _publish_inputs)."""
    plain: tuple[Getter, ...] | None
    needs_checks: bool
    provisional: int
    installed: _loops.Send | None


def _targets_in(table: _Table, sender: t.Any) -> tuple[Getter, ...]:
    """Whom a send by ``sender`` calls, in ``table``."""
    if is_any(sender):
        return table.any
    by_value, key = sender_key(sender)
    return (table.by_value if by_value else table.by_identity).get(key, table.any)


_call_any_shape = t.cast(_loops.Loop, _loops.loop_for(_loops.ANY_SHAPE))


class _ConnectedTo:
    """What :meth:`Signal.connected_to` returns (a plain class: a generator
    based context manager would cost more than the block's send)."""

    __slots__ = ("owner", "receiver", "record", "sender", "signal")

    def __init__(self, signal: Signal, receiver: Receiver, sender: t.Any) -> None:
        self.signal, self.receiver, self.sender = signal, receiver, sender

    def __enter__(self) -> None:
        self.record = self.signal._connect_for_block(self.receiver, self.sender)
        if self.record is None:
            self.owner = _BlockOwner()
            self.signal.connect(self.receiver, sender=self.sender, weak=False, owner=self.owner)

    def __exit__(self, *exc_info: object) -> None:
        record = self.record
        if record is not None and self.signal._end_block(record, self.receiver):
            return
        owner = self.owner if record is None else _FAST_BLOCK
        self.signal.disconnect(self.receiver, self.sender, owner=owner)


class _BlockOwner:
    """A private owner token for :meth:`Signal.connected_to`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<connected_to block>"


_FAST_BLOCK = _BlockOwner()
"""The owner of a block connected by _connect_for_block, which only connects
a receiver not connected yet: two such blocks never share a receiver."""
_BLOCK_OWNERS: Owners = ((_FAST_BLOCK, False),)


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
        if doc and existing.__doc__ is type(existing).__doc__:  # no doc of its own
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


_new_published = t.cast(
    c.Callable[[tuple[t.Any, ...]], _Published], partial(tuple.__new__, _Published)
)
