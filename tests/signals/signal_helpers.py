"""Helpers of the signal tests: a recorder of receiver calls."""

from __future__ import annotations

import collections.abc as c
import typing as t


class Calls(list[tuple[str, t.Any, dict[str, t.Any]]]):
    """A call log: ``(receiver label, sender, kwargs)`` in call order.

    It keeps the receivers it made alive (weak connections would drop them
    otherwise); tests about collection make their own receivers.
    """

    def __init__(self) -> None:
        super().__init__()
        self.made: list[c.Callable[..., t.Any]] = []

    def receiver(self, label: str, result: t.Any = None) -> c.Callable[..., t.Any]:
        """A new receiver that logs its calls under ``label`` and returns ``result``
        (its label when ``result`` is None)."""

        def receive(sender: t.Any, **kwargs: t.Any) -> t.Any:
            self.append((label, sender, kwargs))
            return label if result is None else result

        receive.__qualname__ = f"receiver_{label}"
        self.made.append(receive)
        return receive

    @property
    def labels(self) -> list[str]:
        return [label for label, _, _ in self]
