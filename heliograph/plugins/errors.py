"""The errors of the plugin system.

Each message names the plugin and what is wrong with it, and says what would
be right, the way pluggy names the plugin and the hook.
"""

from __future__ import annotations


class PluginError(Exception):
    """Base of every error the plugin system raises on purpose."""


class PluginNotFoundException(PluginError, LookupError):
    """No plugin is registered under the name (CKAN's name for this error)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


class PluginAlreadyLoadedError(PluginError):
    """``load()`` was asked for a plugin that is already loaded."""


class PluginNotLoadedError(PluginError):
    """``unload()`` was asked for a plugin that is not loaded."""


class PluginImplementationError(PluginError, TypeError):
    """A plugin declares an interface but does not implement it as the interface says."""


class SignalSubscriptionError(PluginImplementationError):
    """``ISignal.get_signal_subscriptions()`` returned something that cannot be connected.

    ``problems`` holds one line per offending entry; each names the plugin,
    the signal and the entry. Nothing of the plugin was connected.
    """

    def __init__(self, plugin: str, problems: list[str]) -> None:
        self.plugin = plugin
        self.problems = problems
        if len(problems) == 1:
            text = problems[0]
        else:
            text = f"{len(problems)} problems in the signal subscriptions of plugin {plugin!r}:"
            text += "".join(f"\n  - {line}" for line in problems)
        super().__init__(text)
