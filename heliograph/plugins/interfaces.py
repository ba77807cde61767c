"""The plugin interfaces.

``ISignal`` and ``IPluginObserver`` for every plugin; ``IActions``,
``IAuthFunctions``, ``IBlueprint``, ``IDatasetForm`` and ``IGroupForm`` for
plugins that extend the portal, named and shaped as CKAN's; ``IClick`` for
plugins that add ``heliograph`` commands; ``IUserPageLinks`` for plugins that
add a page to a user's profile (several plugins may, each with its link,
whichever of them overrides the profile's template).
"""

from __future__ import annotations

import collections.abc as c
import typing as t

from heliograph.plugins.base import Interface, Plugin
from heliograph.signals import Signal

__all__ = [
    "IActions",
    "IAuthFunctions",
    "IBlueprint",
    "IClick",
    "IDatasetForm",
    "IGroupForm",
    "IPluginObserver",
    "ISignal",
    "IUserPageLinks",
    "SignalMapping",
    "Subscription",
]

Subscription = c.Callable[..., t.Any] | c.Mapping[str, t.Any]
"""A receiver, or ``{'receiver': callable, 'sender': value, 'weak': bool}``."""

SignalMapping = c.Mapping[Signal, c.Iterable[Subscription]]
"""What :meth:`ISignal.get_signal_subscriptions` returns."""


class ISignal(Interface):
    """Subscribe to signals for as long as the plugin is loaded."""

    def get_signal_subscriptions(self) -> SignalMapping:
        """Return ``{signal: [subscription, ...]}``.

        A subscription is a receiver ``receiver(sender, **kwargs)``, connected
        for every sender, or a dict ``{'receiver': receiver, 'sender': value}``
        connected for that sender only; both forms mix in one list. An optional
        ``'weak': True`` holds the receiver by a weak reference (the default is
        a strong one: the plugin keeps its receivers alive).

        Called once per load. The whole mapping is checked before anything is
        connected; when the plugin is unloaded exactly the connections made at
        load are removed, so this may return fresh closures on every call.
        """
        return {}


class IPluginObserver(Interface):
    """Be told when plugins are loaded and unloaded.

    Each hook receives the plugin object. An observer is called for its own
    ``after_load`` and ``before_unload`` (it is loaded then), not for its own
    ``before_load`` and ``after_unload``.
    """

    def before_load(self, plugin: Plugin) -> None:
        """Called before ``plugin`` is loaded; raising cancels the load."""

    def after_load(self, plugin: Plugin) -> None:
        """Called after ``plugin`` was loaded and its subscriptions connected."""

    def before_unload(self, plugin: Plugin) -> None:
        """Called before ``plugin`` is unloaded (the unload happens even if this raises)."""

    def after_unload(self, plugin: Plugin) -> None:
        """Called after ``plugin`` was unloaded and its subscriptions disconnected."""


class IActions(Interface):
    """Add actions (or replace core ones) by name."""

    def get_actions(self) -> c.Mapping[str, c.Callable[..., t.Any]]:
        """Return ``{name: action(context, data_dict)}``. Mark read-only actions with
        ``toolkit.side_effect_free`` so the API accepts GET for them. Every call
        sends ``action_succeeded`` like a core action's."""
        return {}


class IAuthFunctions(Interface):
    """Add auth functions (or replace core ones) by action name."""

    def get_auth_functions(self) -> c.Mapping[str, c.Callable[..., t.Any]]:
        """Return ``{action name: auth(context, data_dict) -> {'success': bool, 'msg': str}}``."""
        return {}


class IBlueprint(Interface):
    """Add Flask blueprints to the portal."""

    def get_blueprint(self) -> t.Any:
        """Return a blueprint or a list of blueprints."""
        return []


class IDatasetForm(Interface):
    """Declare custom dataset types; each gets its own dataset and resource
    blueprints, announced with ``register_blueprint`` ('dataset', then 'resource')."""

    def package_types(self) -> c.Sequence[str]:
        """The dataset types this plugin handles."""
        return []


class IGroupForm(Interface):
    """Declare custom group (or, with ``is_organization = True``, organization)
    types; each gets its own blueprint, announced with ``register_blueprint``."""

    is_organization: bool = False

    def group_types(self) -> c.Sequence[str]:
        """The group types this plugin handles."""
        return []


class IClick(Interface):
    """Add commands to the ``heliograph`` command line (CKAN's ``IClick``).

    The commands of every *available* plugin (an entry point in
    ``heliograph.plugins``, loaded or not) are offered; the plugin's module is
    imported only when the command line needs the list or an unknown name.
    A command that needs the portal builds it itself
    (``toolkit.make_app(toolkit.load_config(file))``).
    """

    def get_commands(self) -> c.Sequence[t.Any]:
        """Return a list of ``click.Command`` (or ``click.Group``) objects."""
        return []


class IUserPageLinks(Interface):
    """Add links to a user's profile page (shown in its ``nav.user-pages``)."""

    def user_page_links(self, user_dict: c.Mapping[str, t.Any]) -> c.Sequence[tuple[str, str]]:
        """``(label, url)`` pairs for the profile of ``user_dict`` as the
        current request's caller sees it (return none for callers who may not
        use the page)."""
        return []
