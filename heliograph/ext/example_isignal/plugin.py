"""Subscribes two receivers to the ``ckanext`` signal ``isignal_number``.

With the plugin loaded, ``isignal_number.send(10)`` calls both receivers
(``x2`` for every sender, ``x10`` for the sender ``10`` only) and
``isignal_number.send(5)`` calls ``x2`` alone; unloaded, it calls nobody.
"""

from __future__ import annotations

import typing as t

import heliograph.plugins as p
import heliograph.plugins.toolkit as tk


def x2(sender: int, **kwargs: t.Any) -> int:
    return sender * 2


def x10(sender: int, **kwargs: t.Any) -> int:
    return sender * 10


class ExampleISignalPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> p.SignalMapping:
        return {
            tk.signals.ckanext.signal("isignal_number"): [
                # when subscribing to every sender
                x2,
                # when subscribing to one sender
                {"receiver": x10, "sender": 10},
            ]
        }
