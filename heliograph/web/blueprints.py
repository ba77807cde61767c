"""Blueprint registration: the portal's blueprints, those of custom dataset and
group types, and those of ``IBlueprint`` plugins.

``register_blueprint(blueprint_type, blueprint=...)`` is sent just before each
blueprint of a type in :data:`ANNOUNCED_TYPES` is registered; a view module
under :mod:`heliograph.web.views` joins the portal by a line in
:func:`register_all`.
"""

from __future__ import annotations

import typing as t

from flask import Blueprint, Flask

from heliograph.config import ConfigError
from heliograph.lib import signals
from heliograph.plugins import PluginImplementations, interfaces
from heliograph.web import accounts
from heliograph.web.views import (
    admin,
    api,
    dashboard,
    dataset,
    group,
    home,
    organization,
    resource,
    user,
)

__all__ = ["ANNOUNCED_TYPES", "register", "register_all"]

ANNOUNCED_TYPES = frozenset({"dataset", "resource", "group", "organization"})


def register(app: Flask, blueprint: Blueprint, blueprint_type: str | None = None) -> None:
    """Register ``blueprint``; when its type is one of :data:`ANNOUNCED_TYPES`,
    send ``register_blueprint(blueprint_type, blueprint=blueprint)`` just before."""
    if blueprint_type in ANNOUNCED_TYPES:
        signals.register_blueprint.send(blueprint_type, blueprint=blueprint)
    app.register_blueprint(blueprint)


def register_all(app: Flask) -> None:
    """Register every blueprint of the portal and its plugins on ``app``; call
    inside an application context (receivers of ``register_blueprint`` see
    ``flask.current_app``)."""
    register(app, home.blueprint)
    register(app, admin.blueprint)
    register(app, api.blueprint)
    accounts.exempt_api(api.blueprint)
    register(app, dataset.blueprint, "dataset")
    register(app, resource.blueprint, "resource")
    register(app, group.blueprint, "group")
    register(app, organization.blueprint, "organization")
    register(app, user.blueprint)
    register(app, dashboard.blueprint)
    _dataset_type_blueprints(app)
    _group_type_blueprints(app)
    _plugin_blueprints(app)


def _implementations(interface_name: str) -> list[t.Any]:
    """The loaded plugins implementing ``heliograph.plugins.interfaces.<interface_name>``."""
    return list(PluginImplementations(getattr(interfaces, interface_name)))


def _dataset_type_blueprints(app: Flask) -> None:
    """For each custom dataset type a plugin declares (``IDatasetForm.package_types()``),
    a dataset blueprint at ``/<type>`` and a resource blueprint at
    ``/<type>/<id>/resource``, announced ``'dataset'`` then ``'resource'``."""
    owners: dict[str, t.Any] = {"dataset": None}
    for plugin in _implementations("IDatasetForm"):
        for package_type in plugin.package_types():
            if package_type in owners:
                if owners[package_type] is None:
                    continue  # a plugin customising the core type needs no blueprint
                raise ConfigError(
                    f"configuration key 'heliograph.plugins': plugins {_name(owners[package_type])}"
                    f" and {_name(plugin)} both declare the dataset type {package_type!r}"
                )
            owners[package_type] = plugin
            register(app, dataset.make_blueprint(package_type, plugin), "dataset")
            register(app, resource.make_blueprint(package_type), "resource")


def _group_type_blueprints(app: Flask) -> None:
    """For each custom group or organization type a plugin declares
    (``IGroupForm.group_types()``), its own blueprint at ``/<type>``."""
    owners: dict[str, t.Any] = {"group": None, "organization": None}
    for plugin in _implementations("IGroupForm"):
        is_org = bool(getattr(plugin, "is_organization", False))
        for group_type in plugin.group_types():
            if group_type in owners:
                if owners[group_type] is None:
                    continue
                raise ConfigError(
                    f"configuration key 'heliograph.plugins': plugins {_name(owners[group_type])}"
                    f" and {_name(plugin)} both declare the group type {group_type!r}"
                )
            owners[group_type] = plugin
            blueprint = group.make_blueprint(group_type, is_organization=is_org)
            register(app, blueprint, "organization" if is_org else "group")


def _plugin_blueprints(app: Flask) -> None:
    """Blueprints of plugins implementing ``IBlueprint`` (``get_blueprint()``
    returns a blueprint or a list of them)."""
    for plugin in _implementations("IBlueprint"):
        found = plugin.get_blueprint()
        for blueprint in found if isinstance(found, list | tuple) else [found]:
            register(app, blueprint)


def _name(plugin: t.Any) -> str:
    return repr(getattr(plugin, "name", None) or type(plugin).__name__)
