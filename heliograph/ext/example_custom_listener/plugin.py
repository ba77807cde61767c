"""Subscribes to ``custom_something_happened`` through the ``ckanext`` namespace.

Importing ``heliograph.ext.example_custom_sender.signals`` would fail where
that extension is not installed; asking the namespace for the signal returns
its signal when it is, and otherwise a signal nobody sends, so the listener
is then simply never called.
"""

from __future__ import annotations

import heliograph.plugins as p
from heliograph.ext.example_custom_listener import listeners


class ExampleCustomListenerPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> p.SignalMapping:
        custom_something_happened = p.toolkit.signals.ckanext.signal("custom_something_happened")
        return {custom_something_happened: [listeners.custom_listener]}
