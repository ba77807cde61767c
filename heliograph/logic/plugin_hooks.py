"""Actions and auth functions contributed by plugins (IActions, IAuthFunctions)."""

from __future__ import annotations

from heliograph.logic import Action, AuthFunction
from heliograph.plugins import PluginImplementations
from heliograph.plugins.interfaces import IActions, IAuthFunctions


def extend(actions: dict[str, Action], auth: dict[str, AuthFunction]) -> None:
    """Add the actions and auth functions of loaded plugins (later plugins win)."""
    for action_plugin in PluginImplementations(IActions):
        actions.update(action_plugin.get_actions())
    for auth_plugin in PluginImplementations(IAuthFunctions):
        auth.update(auth_plugin.get_auth_functions())
