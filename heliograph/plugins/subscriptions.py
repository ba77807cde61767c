"""``ISignal`` subscriptions: checked as a whole, connected, and disconnected exactly.

:func:`plan` turns what ``get_signal_subscriptions()`` returned into a list of
:class:`Connection` or raises :class:`SignalSubscriptionError` listing every
offending entry; nothing is connected before the whole mapping passed.
:func:`connect` connects a plan under the plugin's name as owner and
:func:`disconnect` removes exactly those connections, so the mapping is never
asked for again (it may hold fresh closures on every call).
"""

from __future__ import annotations

import collections.abc as c
import difflib
import inspect
import typing as t
import weakref
from dataclasses import dataclass
from types import MethodType

from heliograph.lib.signals import namespaces
from heliograph.plugins import background
from heliograph.plugins.errors import SignalSubscriptionError
from heliograph.signals import ANY, Signal
from heliograph.signals.base import _short_repr

ALLOWED_KEYS = ("receiver", "sender", "weak", "background")


@dataclass(frozen=True)
class Connection:
    """One connection a plugin made: ``signal.connect(receiver, sender, weak, owner=owner)``.

    A weak connection keeps only a weak reference to its receiver here too,
    so recording it does not keep the receiver alive.
    """

    signal: Signal
    sender: t.Any
    weak: bool
    _receiver: c.Callable[[], c.Callable[..., t.Any] | None]
    background: str | None = None
    """The receiver's dotted path when it is delivered in the background."""

    @property
    def receiver(self) -> c.Callable[..., t.Any] | None:
        """The receiver, or None when a weakly held receiver was collected."""
        return self._receiver()

    @classmethod
    def make(
        cls,
        signal: Signal,
        receiver: c.Callable[..., t.Any],
        sender: t.Any,
        weak: bool,
        background_path: str | None = None,
    ) -> Connection:
        getter: c.Callable[[], c.Callable[..., t.Any] | None]
        if background_path is not None:
            return cls(signal, sender, False, _constant(receiver), background_path)
        if weak:
            try:
                getter = (
                    weakref.WeakMethod(receiver)
                    if type(receiver) is MethodType
                    else weakref.ref(receiver)
                )
            except TypeError:  # not weakly referenceable: the core holds it strongly too
                getter = _constant(receiver)
        else:
            getter = _constant(receiver)
        return cls(signal, sender, weak, getter)


def _constant(value: c.Callable[..., t.Any]) -> c.Callable[[], c.Callable[..., t.Any]]:
    return lambda: value


def signal_label(signal: object) -> str:
    """``ckanext.isignal_number`` for a namespaced signal, else its name or repr."""
    name = getattr(signal, "name", None)
    if isinstance(name, str):
        for ns_name, namespace in namespaces.items():
            if namespace.get(name) is signal:
                return f"{ns_name}.{name}"
        return name
    return _short_repr(signal, 100)


def plan(plugin: str, plugin_label: str, mapping: object) -> list[Connection]:
    """Check the whole of ``mapping`` and return the connections it asks for.

    ``plugin`` is the plugin's name, ``plugin_label`` how messages name it.
    Raises :class:`SignalSubscriptionError` naming the plugin, the signal and
    each offending entry; nothing is connected by this function.
    """
    where = f"plugin {plugin_label}: ISignal.get_signal_subscriptions()"
    if not isinstance(mapping, c.Mapping):
        raise SignalSubscriptionError(
            plugin,
            [
                f"{where} must return a dict {{signal: [subscription, ...]}}, "
                f"got {_short_repr(mapping, 100)}"
            ],
        )
    problems: list[str] = []
    connections: list[Connection] = []
    seen: set[tuple[int, c.Hashable, c.Hashable, bool]] = set()
    for key, entries in mapping.items():
        if not isinstance(key, Signal):
            hint = (
                f"; use the signal object, e.g. tk.signals.ckanext.signal({key!r})"
                if isinstance(key, str)
                else "; use a signal from tk.signals"
            )
            problems.append(f"{where}: key {_short_repr(key, 100)} is not a signal{hint}")
            continue
        label = signal_label(key)
        if isinstance(entries, (str, bytes, c.Mapping)) or not isinstance(entries, c.Iterable):
            problems.append(
                f"{where}, signal {label}: expected a list of receivers or "
                f"{{'receiver': ...}} dicts, got {_short_repr(entries, 100)}"
            )
            continue
        for index, entry in enumerate(entries):
            at = f"{where}, signal {label}, entry [{index}] {_short_repr(entry, 100)}"
            parsed = _parse_entry(entry)
            if isinstance(parsed, str):
                problems.append(f"{at}: {parsed}")
                continue
            receiver, sender, weak, in_background = parsed
            path = None
            if in_background:
                checked = _background_problem(key, receiver, sender, weak)
                if checked.startswith("!"):
                    problems.append(f"{at}: {checked[1:]}")
                    continue
                path = checked
            identity = (id(key), _identity(receiver), _identity(sender), in_background)
            if identity in seen:
                continue
            seen.add(identity)
            connections.append(Connection.make(key, receiver, sender, weak, path))
    if problems:
        raise SignalSubscriptionError(plugin, problems)
    return connections


def _parse_entry(entry: object) -> tuple[c.Callable[..., t.Any], t.Any, bool, bool] | str:
    """``(receiver, sender, weak, background)`` or the reason the entry is wrong."""
    if isinstance(entry, c.Mapping):
        unknown = [key for key in entry if key not in ALLOWED_KEYS]
        if unknown:
            return "; ".join(_unknown_key(key) for key in unknown) + (
                "; a subscription dict takes 'receiver' (required), 'sender', 'weak' "
                "and 'background'"
            )
        if "receiver" not in entry:
            return "the dict has no 'receiver'; write {'receiver': callable, 'sender': value}"
        receiver, sender, weak, in_background = (
            entry["receiver"],
            entry.get("sender", ANY),
            entry.get("weak", False),
            entry.get("background", False),
        )
        if not isinstance(weak, bool):
            return f"'weak' must be True or False, got {_short_repr(weak, 100)}"
        if not isinstance(in_background, bool):
            return f"'background' must be True or False, got {_short_repr(in_background, 100)}"
    else:
        receiver, sender, weak, in_background = entry, ANY, False, False
    if not callable(receiver):
        return (
            f"the receiver {_short_repr(receiver, 100)} is not callable; a subscription is a "
            "callable receiver(sender, **kwargs) or a dict {'receiver': callable, ...}"
        )
    problem = receiver_signature_problem(receiver)
    if problem:
        return problem
    return receiver, sender, weak, in_background


def _background_problem(
    signal: Signal, receiver: c.Callable[..., t.Any], sender: t.Any, weak: bool
) -> str:
    """The receiver's dotted path, or ``'!'`` and the reason a background
    subscription cannot be made."""
    contract = getattr(signal, "contract", None)
    reason = getattr(contract, "not_deliverable", None)
    if reason:
        return f"!{signal_label(signal)} cannot have background receivers: {reason}"
    if weak:
        return (
            "!'weak' does not apply to a background receiver: the worker imports it by "
            "its dotted path; drop 'weak'"
        )
    if sender is not ANY and not (sender is None or isinstance(sender, (str, int))):
        return (
            f"!a background subscription filters by a str or int sender (what crosses "
            f"the process), got {_short_repr(sender, 100)}"
        )
    path = background.receiver_path(receiver)
    if path is None:
        return (
            f"!a worker cannot import the receiver {_short_repr(receiver, 100)} by a dotted path: "
            "a background receiver must be a module-level function (or a method of a "
            "module-level object), not a lambda, a closure or a method of another object"
        )
    return path


def receiver_signature_problem(receiver: c.Callable[..., t.Any]) -> str | None:
    """Why ``receiver`` cannot be called as ``receiver(sender, **kwargs)``, or None.

    A callable without an introspectable signature (some builtins) is trusted.
    """
    try:
        signature = inspect.signature(receiver)
    except (TypeError, ValueError):
        return None
    shape = f"the receiver {_short_repr(receiver, 100)}{signature}"
    if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return (
            f"{shape} does not accept arbitrary keyword arguments; subscribers must be "
            "defined as def subscriber(sender, **kwargs)"
        )
    try:
        signature.bind(object())
    except TypeError as exc:
        return (
            f"{shape} cannot be called with the sender as its only positional argument "
            f"({exc}); subscribers must be defined as def subscriber(sender, **kwargs)"
        )
    return None


def connect(connections: c.Sequence[Connection], owner: str) -> None:
    """Connect every planned connection for ``owner``; all or nothing."""
    done: list[Connection] = []
    try:
        for connection in connections:
            receiver = connection.receiver
            if receiver is None:  # collected between planning and connecting
                continue
            if connection.background is not None:
                background.add([_background_subscription(connection, owner)])
            else:
                connection.signal.connect(receiver, connection.sender, connection.weak, owner=owner)
            done.append(connection)
    except BaseException as exc:
        for error in disconnect(done, owner):
            exc.add_note(f"while undoing the connections of {owner!r}: {error!r}")
        raise


def disconnect(connections: c.Sequence[Connection], owner: str) -> list[Exception]:
    """Remove ``owner``'s connections, in reverse order; every one is tried.

    Returns the exceptions raised on the way (by ``receiver_disconnected``
    subscribers), after every connection was removed.
    """
    errors: list[Exception] = []
    for connection in reversed(connections):
        receiver = connection.receiver
        if receiver is None:  # a weak receiver that died: the core dropped it already
            continue
        try:
            if connection.background is not None:
                background.remove([_background_subscription(connection, owner)])
                continue
            connection.signal.disconnect(receiver, connection.sender, owner=owner)
        except Exception as exc:
            errors.append(exc)
    return errors


def _background_subscription(
    connection: Connection, owner: str
) -> background.BackgroundSubscription:
    assert connection.background is not None
    return background.BackgroundSubscription(
        connection.signal, connection.background, connection.sender, owner
    )


def _identity(obj: object) -> c.Hashable:
    """Match receivers and senders as the core does: str and int by value,
    bound methods by function and instance, the rest by identity."""
    if obj is ANY:
        return "<ANY>"
    if type(obj) is MethodType:
        return ("method", id(obj.__func__), id(obj.__self__))
    if isinstance(obj, (str, int)):
        return (type(obj) is str, obj)
    return ("id", id(obj))


def _unknown_key(key: object) -> str:
    close = difflib.get_close_matches(str(key), ALLOWED_KEYS, n=1) if isinstance(key, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key {key!r}{hint}"
