"""The ``webhooks`` plugin: one background subscription, actions, auth functions, pages."""

from __future__ import annotations

import collections.abc as c
import typing as t

import heliograph.plugins as p
from heliograph.ext.webhooks.delivery import ACTIONS, dispatch, owner_changed

OWNER_ACTIONS = ("user_delete", "user_update")
"""Actions after which the hooks' owners may have changed (deleted, made sysadmin)."""


class WebhooksPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)
    p.implements(p.IActions)
    p.implements(p.IAuthFunctions)
    p.implements(p.IBlueprint)
    p.implements(p.IUserPageLinks)

    def get_signal_subscriptions(self) -> p.SignalMapping:
        signals = p.toolkit.signals
        return {
            signals.action_succeeded: [
                *(
                    {"receiver": dispatch, "sender": sender, "background": True}
                    for sender in ACTIONS
                ),
                *({"receiver": owner_changed, "sender": name} for name in OWNER_ACTIONS),
            ],
            signals.datastore_upsert: [{"receiver": dispatch, "background": True}],
        }

    def get_actions(self) -> c.Mapping[str, c.Callable[..., t.Any]]:
        from heliograph.ext.webhooks.logic import ACTIONS as WEBHOOK_ACTIONS

        return WEBHOOK_ACTIONS

    def get_auth_functions(self) -> c.Mapping[str, c.Callable[..., t.Any]]:
        from heliograph.ext.webhooks.logic import AUTH_FUNCTIONS

        return AUTH_FUNCTIONS

    def get_blueprint(self) -> t.Any:
        from heliograph.ext.webhooks.views import webhooks

        return webhooks

    def user_page_links(self, user_dict: c.Mapping[str, t.Any]) -> c.Sequence[tuple[str, str]]:
        import flask

        context = p.toolkit.action_context()
        caller = context.get("auth_user_obj")
        if caller is None:
            return []
        if caller.id != user_dict.get("id") and not caller.sysadmin:
            return []
        return [("Webhooks", flask.url_for("webhooks.index", id=user_dict["name"]))]
