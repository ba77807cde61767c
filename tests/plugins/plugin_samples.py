"""Plugin classes for the plugin tests, registered by name with ``heliograph.plugins.register``.

Test-only plugins need no entry point: the ``samples`` fixture (conftest)
registers them for one test, and the pytest plugin forgets registrations
made by a test when it ends.
"""

from __future__ import annotations

import collections.abc as c
import typing as t

import heliograph.plugins as p
import heliograph.plugins.toolkit as tk

numbers = tk.signals.ckanext.signal("test_plugins_numbers")
words = tk.signals.ckanext.signal("test_plugins_words")


def shared_receiver(sender: t.Any, **kwargs: t.Any) -> str:
    return "shared"


def other_receiver(sender: t.Any, **kwargs: t.Any) -> str:
    return "other"


class SharedA(p.SingletonPlugin):
    """Subscribes ``shared_receiver`` to ``numbers`` for every sender."""

    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> p.SignalMapping:
        return {numbers: [shared_receiver]}


class SharedB(p.Plugin):
    """Subscribes the same function as SharedA, plus a sender-filtered one."""

    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> p.SignalMapping:
        return {
            numbers: [shared_receiver, {"receiver": other_receiver, "sender": 1}],
            words: [shared_receiver],
        }


class FreshClosures(p.SingletonPlugin):
    """Returns new closures on every call, as CKAN plugins often do."""

    p.implements(p.ISignal)

    def __init__(self) -> None:
        self.made: list[c.Callable[..., t.Any]] = []

    def get_signal_subscriptions(self) -> p.SignalMapping:
        def fresh(sender: t.Any, **kwargs: t.Any) -> str:
            return "fresh"

        self.made.append(fresh)
        return {numbers: [fresh, {"receiver": fresh, "sender": 2}]}


class Plain(p.Plugin):
    """Implements nothing."""


class Observer(p.SingletonPlugin):
    """Logs every IPluginObserver call as ``(hook, plugin name)``."""

    p.implements(p.IPluginObserver)

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []

    def before_load(self, plugin: p.Plugin) -> None:
        self.log.append(("before_load", plugin.name))

    def after_load(self, plugin: p.Plugin) -> None:
        self.log.append(("after_load", plugin.name))

    def before_unload(self, plugin: p.Plugin) -> None:
        self.log.append(("before_unload", plugin.name))

    def after_unload(self, plugin: p.Plugin) -> None:
        self.log.append(("after_unload", plugin.name))


SAMPLES: dict[str, type[p.Plugin]] = {
    "shared_a": SharedA,
    "shared_b": SharedB,
    "fresh_closures": FreshClosures,
    "plain": Plain,
    "observer": Observer,
}


def subscription_plugin(mapping_factory: c.Callable[[], object]) -> type[p.Plugin]:
    """A new plugin class whose get_signal_subscriptions() returns ``mapping_factory()``."""

    class Made(p.Plugin):
        p.implements(p.ISignal)

        def get_signal_subscriptions(self) -> t.Any:
            return mapping_factory()

    return Made


def owned_by(signal: t.Any, owner: str) -> list[t.Any]:
    """The receivers of ``signal`` that ``owner`` connected."""
    return [info.receiver for info in signal.receiver_info() if owner in info.owners]
