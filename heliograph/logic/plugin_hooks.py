"""Actions and auth functions contributed by plugins (IActions, IAuthFunctions)."""

from __future__ import annotations

from heliograph.logic import Action, AuthFunction


def extend(actions: dict[str, Action], auth: dict[str, AuthFunction]) -> None:
    """Add the actions and auth functions of loaded plugins (later plugins win)."""
    try:
        from heliograph.plugins import PluginImplementations
        from heliograph.plugins.interfaces import IActions, IAuthFunctions
    except ImportError:  # the plugin interfaces for the portal are not there yet
        return
    for plugin in PluginImplementations(IActions):
        actions.update(plugin.get_actions())
    for plugin in PluginImplementations(IAuthFunctions):
        auth.update(plugin.get_auth_functions())
