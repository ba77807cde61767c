"""Detecting receivers that modify the arguments they were given.

The specification says subscribers must never modify their arguments. The
guard takes a structural snapshot of every mutable argument before a receiver
runs and compares it afterwards. Containers (dict, list, set, tuple and their
subclasses) are walked; immutable scalars compare by value; any other object
compares by identity, since only the containers handed over are guarded.
"""

from __future__ import annotations

import typing as t

_SCALARS = (str, bytes, int, float, complex, bool, type(None))


class SignalArgumentMutated(RuntimeError):
    """A receiver changed a mutable argument it received."""

    def __init__(self, receiver_name: str, signal_name: str, arguments: list[str]) -> None:
        self.receiver_name = receiver_name
        self.signal_name = signal_name
        self.arguments = arguments
        names = ", ".join(arguments)
        super().__init__(
            f"receiver {receiver_name} modified the argument(s) {names} of signal "
            f"{signal_name}; subscribers must treat what they receive as read-only"
        )


def snapshot(value: object, _seen: frozenset[int] = frozenset()) -> object:
    """A comparable image of ``value`` that changes when any nested container does."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (dict, list, set, frozenset, tuple)):
        ident = id(value)
        if ident in _seen:
            return ("<cycle>", ident)
        seen = _seen | {ident}
        if isinstance(value, dict):
            items = tuple((snapshot(k, seen), snapshot(v, seen)) for k, v in value.items())
            return ("dict", ident, items)
        if isinstance(value, (set, frozenset)):
            return ("set", ident, frozenset(value))
        return (type(value).__name__, ident, tuple(snapshot(v, seen) for v in value))
    return ("object", id(value))


def snapshot_arguments(sender: object, kwargs: dict[str, t.Any]) -> dict[str, object]:
    """Snapshots of the sender and of each keyword argument, by name."""
    images = {name: snapshot(value) for name, value in kwargs.items()}
    images["sender"] = snapshot(sender)
    return images


def changed_arguments(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """Names whose snapshot differs, in a stable order."""
    return sorted(name for name in before if before[name] != after.get(name))
