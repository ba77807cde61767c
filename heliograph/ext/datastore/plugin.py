"""The ``datastore`` plugin: its actions, auth functions, commands and pages."""

from __future__ import annotations

import collections.abc as c
import typing as t

import heliograph.plugins as p
from heliograph.ext.datastore.cli import datastore
from heliograph.ext.datastore.logic import ACTIONS, AUTH_FUNCTIONS, SUBSCRIPTIONS


class DatastorePlugin(p.SingletonPlugin):
    p.implements(p.IActions)
    p.implements(p.IAuthFunctions)
    p.implements(p.IClick)
    p.implements(p.ISignal)
    p.implements(p.IBlueprint)

    def get_blueprint(self) -> t.Any:
        from heliograph.ext.datastore.views import datastore

        return datastore

    def get_signal_subscriptions(self) -> p.SignalMapping:
        return {
            p.toolkit.signals.action_committed: [
                {"receiver": receiver, "sender": sender}
                for sender, receiver in SUBSCRIPTIONS.items()
            ]
        }

    def get_actions(self) -> c.Mapping[str, c.Callable[..., t.Any]]:
        return ACTIONS

    def get_auth_functions(self) -> c.Mapping[str, c.Callable[..., t.Any]]:
        return AUTH_FUNCTIONS

    def get_commands(self) -> list[t.Any]:
        return [datastore]
