"""CKAN-style plugins (the specification's ``p``)::

    import heliograph.plugins as p

    class ExampleISignalPlugin(p.SingletonPlugin):
        p.implements(p.ISignal)

        def get_signal_subscriptions(self):
            return {p.toolkit.signals.ckanext.signal('isignal_number'): [receiver]}

Plugins are found by name in the entry point group ``heliograph.plugins``
(or given to :func:`register`), loaded with :func:`load` or :func:`load_all`
and unloaded with :func:`unload`. See :mod:`heliograph.plugins.core` for the
guarantees under concurrency and :mod:`heliograph.plugins.subscriptions` for
how ``ISignal`` subscriptions are checked, connected and disconnected.

``p.toolkit`` is :mod:`heliograph.plugins.toolkit`, imported on first use (as
CKAN's ``ckan.plugins`` offers its toolkit): the toolkit imports the portal,
and the plugin system loads without it.
"""

from __future__ import annotations

import importlib
import types
import typing as t

from heliograph.plugins.base import Interface, Plugin, SingletonPlugin, implements
from heliograph.plugins.core import (
    CONFIG_KEY,
    GROUP,
    PluginImplementations,
    PluginState,
    available_plugins,
    get_plugin,
    load,
    load_all,
    loaded_plugins,
    plugin_class,
    plugin_folder,
    plugin_loaded,
    plugins_changed,
    register,
    restore,
    snapshot,
    unload,
    unload_all,
    unregister,
    use_plugin,
)
from heliograph.plugins.errors import (
    PluginAlreadyLoadedError,
    PluginError,
    PluginImplementationError,
    PluginNotFoundException,
    PluginNotLoadedError,
    SignalSubscriptionError,
)
from heliograph.plugins.interfaces import (
    IActions,
    IAuthFunctions,
    IBlueprint,
    IClick,
    IDatasetForm,
    IGroupForm,
    IPluginObserver,
    ISignal,
    IUserPageLinks,
    SignalMapping,
    Subscription,
)

__all__ = [
    "CONFIG_KEY",
    "GROUP",
    "IPluginObserver",
    "IActions",
    "IAuthFunctions",
    "IBlueprint",
    "IClick",
    "IDatasetForm",
    "IGroupForm",
    "ISignal",
    "IUserPageLinks",
    "Interface",
    "Plugin",
    "PluginAlreadyLoadedError",
    "PluginError",
    "PluginImplementationError",
    "PluginImplementations",
    "PluginNotFoundException",
    "PluginNotLoadedError",
    "PluginState",
    "SignalMapping",
    "SignalSubscriptionError",
    "SingletonPlugin",
    "Subscription",
    "available_plugins",
    "get_plugin",
    "implements",
    "load",
    "load_all",
    "loaded_plugins",
    "plugin_class",
    "plugin_folder",
    "plugin_loaded",
    "plugins_changed",
    "register",
    "restore",
    "snapshot",
    "toolkit",
    "unload",
    "unload_all",
    "unregister",
    "use_plugin",
]

if t.TYPE_CHECKING:
    from heliograph.plugins import toolkit


def __getattr__(name: str) -> types.ModuleType:
    if name == "toolkit":
        return importlib.import_module("heliograph.plugins.toolkit")
    raise AttributeError(f"module 'heliograph.plugins' has no attribute {name!r}")
