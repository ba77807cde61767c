"""The ``activity`` plugin: subscriptions, read actions, auth functions and pages."""

from __future__ import annotations

import collections.abc as c
import typing as t

import heliograph.plugins as p
from heliograph.ext.activity.logic import ACTIONS, AUTH_FUNCTIONS
from heliograph.ext.activity.subscriber import TRACKED, record
from heliograph.ext.activity.views import activity


class ActivityPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)
    p.implements(p.IActions)
    p.implements(p.IAuthFunctions)
    p.implements(p.IBlueprint)

    def get_signal_subscriptions(self) -> p.SignalMapping:
        return {
            p.toolkit.signals.action_succeeded: [
                {"receiver": record, "sender": sender} for sender in TRACKED
            ]
        }

    def get_actions(self) -> c.Mapping[str, c.Callable[..., t.Any]]:
        return ACTIONS

    def get_auth_functions(self) -> c.Mapping[str, c.Callable[..., t.Any]]:
        return AUTH_FUNCTIONS

    def get_blueprint(self) -> t.Any:
        return activity
