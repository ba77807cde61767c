"""Identity helpers shared by the dispatch core.

Senders and receivers are matched the way blinker matches them: ``str`` and
``int`` values (and their subclasses) by value, bound methods by the pair of
their function and instance, everything else by identity.
"""

from __future__ import annotations

import collections.abc as c
import functools
import inspect
import sys
import typing as t
from types import MethodType


class Symbol:
    """A named constant; ``Symbol('x') is Symbol('x')``."""

    symbols: t.ClassVar[dict[str, Symbol]] = {}
    name: str

    def __new__(cls, name: str) -> Symbol:
        existing = cls.symbols.get(name)
        if existing is not None:
            return existing
        obj = super().__new__(cls)
        obj.name = name
        cls.symbols[name] = obj
        return obj

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> tuple[type[Symbol], tuple[str]]:
        return (Symbol, (self.name,))


ANY = Symbol("ANY")
"""The sender that stands for every sender."""


def is_any(sender: object) -> bool:
    """True for :data:`ANY`, and for ``blinker.ANY`` when blinker is loaded.

    blinker is never imported here: code written for blinker keeps working
    when it passes blinker's symbol, and nothing changes when blinker is absent.
    """
    if sender is ANY:
        return True
    blinker = sys.modules.get("blinker")
    return blinker is not None and sender is getattr(blinker, "ANY", None)


def receiver_id(obj: object) -> c.Hashable:
    """A stable key for a receiver: bound methods by ``(func, self)``."""
    if type(obj) is MethodType:
        return id(obj.__func__), id(obj.__self__)
    if isinstance(obj, (str, int)):
        return obj
    return id(obj)


def sender_key(sender: object) -> tuple[bool, c.Hashable]:
    """``(by_value, key)`` for a specific sender (never :data:`ANY`)."""
    if isinstance(sender, (str, int)):
        return True, sender
    if type(sender) is MethodType:
        return False, (id(sender.__func__), id(sender.__self__))
    return False, id(sender)


def qualified_name(obj: object) -> str:
    """A readable dotted name for a receiver, for logs and introspection."""
    if isinstance(obj, functools.partial):
        return f"partial({qualified_name(obj.func)})"
    if type(obj) is MethodType:
        owner = type(obj.__self__)
        return f"{owner.__module__}.{owner.__qualname__}.{obj.__func__.__name__}"
    qualname = getattr(obj, "__qualname__", None)
    module = getattr(obj, "__module__", None)
    if qualname is None:
        cls = type(obj)
        qualname, module = f"{cls.__qualname__} instance", cls.__module__
    return f"{module}.{qualname}" if module else str(qualname)


def is_coroutine_receiver(obj: object) -> bool:
    """True when calling ``obj`` returns a coroutine (as blinker decides)."""
    return inspect.iscoroutinefunction(obj)
