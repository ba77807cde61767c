"""A plugin that sends ``custom_something_happened`` (see ``signals.py``)."""

from __future__ import annotations

import typing as t

import heliograph.plugins as p
from heliograph.ext.example_custom_sender.signals import custom_something_happened


class ExampleCustomSenderPlugin(p.SingletonPlugin):
    def something_happened(self, **kwargs: t.Any) -> list[tuple[t.Any, t.Any]]:
        """Notify subscribers; returns what ``send`` returns."""
        return custom_something_happened.send(self.name, **kwargs)
