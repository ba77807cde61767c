"""A plugin that sends ``custom_something_happened`` (see ``signals.py``).

It sends at a real moment of the portal: each time a dataset is created (it
subscribes to ``action_succeeded`` for the sender ``package_create``, the
specification's sender-filtered form), and whenever code calls
:meth:`something_happened`.
"""

from __future__ import annotations

import typing as t

import heliograph.plugins as p
from heliograph.ext.example_custom_sender.signals import custom_something_happened


class ExampleCustomSenderPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> p.SignalMapping:
        return {
            p.toolkit.signals.action_succeeded: [
                {"receiver": self._dataset_created, "sender": "package_create"}
            ]
        }

    def something_happened(self, **kwargs: t.Any) -> list[tuple[t.Any, t.Any]]:
        """Notify subscribers; returns what ``send`` returns."""
        return custom_something_happened.send(self.name, **kwargs)

    def _dataset_created(self, sender: str, **kwargs: t.Any) -> None:
        result = kwargs.get("result")
        if isinstance(result, dict) and "name" in result:
            self.something_happened(what="dataset created", dataset=result["name"])
