"""Contracts: what a signal promises its subscribers, as data.

A contract says when a signal is sent, what its sender is and which keyword
arguments come with it. Catalogs and reference pages are generated from it,
and test helpers check real sends against it.
"""

from __future__ import annotations

import collections.abc as c
import typing as t
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WireForm:
    """What a signal's send looks like to a background receiver in another process.

    ``convert(sender, kwargs)`` returns ``(sender, kwargs)`` to be encoded as
    JSON (str, int, float, bool, None, lists, dicts; datetimes become ISO
    strings; secrets are redacted when encoded); ``key(sender,
    kwargs)`` the ordering key: the object the event is about, whose events
    reach each receiver in commit order. ``description`` says both in words.
    """

    convert: c.Callable[[t.Any, c.Mapping[str, t.Any]], tuple[t.Any, dict[str, t.Any]]]
    key: c.Callable[[t.Any, c.Mapping[str, t.Any]], str]
    description: str


@dataclass(frozen=True)
class Contract:
    """The documented shape of one signal's sends."""

    sent_when: str
    sender: str
    """What the sender is, in words (e.g. 'the action name')."""
    arguments: c.Mapping[str, str] = field(default_factory=dict)
    """Keyword argument name -> what it holds."""
    wire: WireForm | None = None
    """How the send crosses a process, for background receivers; None for a
    plain JSON check of the sender and every argument."""
    not_deliverable: str | None = None
    """Why the signal cannot have background receivers (None: it can)."""

    def missing_arguments(self, kwargs: c.Mapping[str, t.Any]) -> list[str]:
        """Documented keyword arguments absent from ``kwargs``."""
        return [name for name in self.arguments if name not in kwargs]

    def unexpected_arguments(self, kwargs: c.Mapping[str, t.Any]) -> list[str]:
        """Keyword arguments in ``kwargs`` that the contract does not document."""
        return [name for name in kwargs if name not in self.arguments]

    def signature(self) -> str:
        """``(sender, arg, ...)`` as the specification writes it."""
        return "(" + ", ".join(["sender", *self.arguments]) + ")"

    def docstring(self) -> str:
        lines = [self.sent_when, "", f"Sender: {self.sender}."]
        if self.arguments:
            lines.append("Keyword arguments:")
            lines.extend(f"- ``{name}``: {meaning}" for name, meaning in self.arguments.items())
        else:
            lines.append("No keyword arguments.")
        if self.not_deliverable:
            lines.append(f"Background receivers: not deliverable ({self.not_deliverable}).")
        elif self.wire is not None:
            lines.append(f"Background receivers get: {self.wire.description}")
        return "\n".join(lines)
