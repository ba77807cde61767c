"""The web layer: the Flask application factory, its blueprints and templates.

:func:`make_app` builds the portal. What a caller can rely on:

- the database named by ``sqlalchemy.url`` is bound to ``model.Session`` and
  brought to the current schema on start (so the SQLite default is created on
  first start); the scoped session is removed at the end of every request;
- the logic layer's settings (``heliograph.logic.settings.config``) hold the
  configuration, and the plugins named in ``heliograph.plugins`` are loaded;
- ``request_started(app)`` and ``request_finished(app, response=...)`` of
  :mod:`heliograph.lib.signals` are sent exactly once for every request, pages,
  API and static files alike (they re-broadcast Flask's own signals, as CKAN does);
- ``register_blueprint(blueprint_type, blueprint=...)`` is sent just before each
  blueprint of type ``dataset``, ``resource``, ``group`` and ``organization`` is
  registered, inside an application context (``flask.current_app`` is the
  application being built); a custom dataset type declared by a plugin gets
  its own dataset and resource blueprints, announced ``'dataset'`` then ``'resource'``.
"""

from __future__ import annotations

import collections.abc as c
import logging
import threading
import typing as t

import flask
import jinja2
from flask import Blueprint, Flask
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException

from heliograph import model
from heliograph.config import Config, ConfigError, load
from heliograph.lib import signals
from heliograph.web import accounts

__all__ = ["make_app"]

log = logging.getLogger(__name__)

EXTENSION_KEY = "heliograph"
"""``app.extensions[EXTENSION_KEY]`` holds ``{'config': Config, 'engine': Engine}``."""

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def make_app(config: Config | c.Mapping[str, t.Any] | None = None) -> Flask:
    """Build the portal application.

    ``config`` is a :class:`~heliograph.config.Config`, a mapping of overrides
    given to :func:`heliograph.config.load` (file and environment still apply),
    or None for :func:`heliograph.config.load` alone. A bad configuration
    raises :class:`~heliograph.config.ConfigError` naming the key.
    """
    if config is None:
        config = load()
    elif not isinstance(config, Config):
        config = load(overrides=config)

    app = Flask(__name__)
    app.config["SECRET_KEY"] = config["heliograph.secret_key"]
    app.config["MAX_CONTENT_LENGTH"] = config["heliograph.max_request_size_mb"] * 1024 * 1024
    app.config["HELIOGRAPH"] = config
    app.json.sort_keys = False  # type: ignore[attr-defined]

    engine = _bind_database(config)
    app.extensions[EXTENSION_KEY] = {"config": config, "engine": engine}
    _fill_logic_settings(config)
    _sweep_upload_files()
    _load_plugins(config)
    upgrade_plugins(engine, configured_plugins(config))
    app.jinja_loader = _PluginTemplates(app.jinja_loader)

    app.teardown_appcontext(_remove_session)
    _rebroadcast_request_signals(app)
    _register_error_handlers(app)
    accounts.init_app(app)
    app.context_processor(_template_globals)
    with app.app_context():
        _register_blueprints(app)
    return app


# -- database -------------------------------------------------------------------


def _engine(url: str) -> Engine:
    """One engine per database URL and process, so that apps built again and
    again (tests) share a pool instead of leaking one each."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = model.engine_for(url)
        return engine


def _bind_database(config: Config) -> Engine:
    from heliograph.model import migrate

    url = config["sqlalchemy.url"]
    try:
        engine = _engine(url)
        if not migrate.is_current(engine):
            log.info("bringing the database schema to the current revision")
            migrate.upgrade(engine)
    except Exception as exc:
        raise ConfigError(
            f"configuration key 'sqlalchemy.url': cannot use the database "
            f"{_safe_url(url)!r}: {type(exc).__name__}: {exc}"
        ) from exc
    model.init_engine(engine)
    return engine


def _safe_url(url: str) -> str:
    from sqlalchemy import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


def _sweep_upload_files() -> None:
    """Delete the temporary files uploads abandoned (a process killed mid-upload)."""
    from heliograph.logic import uploads

    try:
        uploads.sweep_temporary(at_start=True)
    except OSError:
        log.warning("could not clean the temporary upload files", exc_info=True)


def _remove_session(_exc: BaseException | None) -> None:
    model.Session.remove()


# -- logic settings and plugins -------------------------------------------------


def _fill_logic_settings(config: Config) -> None:
    """Fill the configuration objects of the layers below, keeping each object:
    ``heliograph.logic.settings.config`` and ``heliograph.plugins.toolkit.config``."""
    from heliograph import events
    from heliograph.logic import settings
    from heliograph.plugins import toolkit

    events.configure(config)
    targets: list[dict[str, t.Any]] = [settings.config, toolkit.config]
    seen: set[int] = set()
    for target in targets:
        if id(target) in seen:
            continue
        seen.add(id(target))
        target.clear()
        target.update(config)


def configured_plugins(config: c.Mapping[str, t.Any]) -> list[str]:
    """The plugin names of ``heliograph.plugins`` (a list, or a string of names
    separated by spaces or commas)."""
    names = config.get("heliograph.plugins") or []
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    return [str(name) for name in names]


def upgrade_plugins(engine: Engine, names: c.Iterable[str]) -> dict[str, str | None]:
    """Bring the tables of plugins ``names`` that ship Alembic migrations (a
    ``migrations`` folder beside the plugin's module) to their latest revision;
    returns each such plugin's revision."""
    from heliograph import plugins
    from heliograph.model import migrate

    revisions: dict[str, str | None] = {}
    for name in dict.fromkeys(names):
        folder = plugins.plugin_folder(name, "migrations")
        if folder is None:
            continue
        wanted = migrate.PluginMigrations(name, folder)
        try:
            if not migrate.is_current(engine, wanted):
                log.info("bringing the tables of plugin %r to their current revision", name)
                migrate.upgrade(engine, plugin=wanted)
            revisions[name] = migrate.current_revision(engine, wanted)
        except Exception as exc:
            raise ConfigError(
                f"configuration key 'heliograph.plugins': cannot migrate the tables of "
                f"plugin {name!r}: {type(exc).__name__}: {exc}"
            ) from exc
    return revisions


def _load_plugins(config: Config) -> None:
    """Load the plugins named in ``heliograph.plugins`` that are not loaded yet
    (building the app again loads nothing twice), then rebuild the action registry."""
    from heliograph import logic, plugins

    names = configured_plugins(config)
    missing = [name for name in dict.fromkeys(names) if not plugins.plugin_loaded(name)]
    if missing:
        try:
            plugins.load(*missing)
        except plugins.PluginError as exc:
            raise ConfigError(f"configuration key 'heliograph.plugins': {exc}") from exc
    logic.registry.reset()


def _implementations(interface_name: str) -> list[t.Any]:
    """The loaded plugins implementing ``heliograph.plugins.interfaces.<interface_name>``."""
    from heliograph.plugins import PluginImplementations, interfaces

    return list(PluginImplementations(getattr(interfaces, interface_name)))


class _PluginTemplates(jinja2.BaseLoader):
    """The portal's templates, overridable by loaded plugins.

    A loaded plugin with a ``templates`` folder beside its module is searched
    first, so its ``dataset/read.html`` replaces the portal's; it reaches the
    portal's own page as ``core/dataset/read.html`` (CKAN's ``ckan_extends``),
    to extend it and fill its blocks. The set of plugins is read at each
    lookup, so plugins loaded after the app was built are seen too.
    """

    def __init__(self, core: jinja2.BaseLoader | None) -> None:
        self.core = core

    def _loaders(self) -> list[jinja2.BaseLoader]:
        from heliograph import plugins

        found: list[jinja2.BaseLoader] = []
        for name in plugins.loaded_plugins():
            folder = plugins.plugin_folder(name, "templates")
            if folder is not None:
                found.append(jinja2.FileSystemLoader(folder))
        return found

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, c.Callable[[], bool] | None]:
        if self.core is None:
            raise jinja2.TemplateNotFound(template)
        if template.startswith("core/"):
            return self.core.get_source(environment, template.removeprefix("core/"))
        for loader in self._loaders():
            try:
                return loader.get_source(environment, template)
            except jinja2.TemplateNotFound:
                continue
        return self.core.get_source(environment, template)

    def list_templates(self) -> list[str]:
        names = set(self.core.list_templates() if self.core is not None else [])
        for loader in self._loaders():
            names.update(loader.list_templates())
        return sorted(names)


# -- request signals ------------------------------------------------------------


def _rebroadcast_started(sender: Flask, **_extra: t.Any) -> None:
    signals.request_started.send(sender)


def _rebroadcast_finished(sender: Flask, **extra: t.Any) -> None:
    signals.request_finished.send(sender, response=extra.get("response"))


def _rebroadcast_request_signals(app: Flask) -> None:
    # Module-level receivers connected weakly, filtered by this app: an app
    # that goes away takes its connections with it.
    flask.request_started.connect(_rebroadcast_started, app)
    flask.request_finished.connect(_rebroadcast_finished, app)


# -- errors ---------------------------------------------------------------------


def _register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _handle_http_exception)


def _handle_http_exception(exc: HTTPException) -> t.Any:
    from heliograph.web.views import api, render_error

    if flask.request.path == "/api" or flask.request.path.startswith("/api/"):
        return api.http_error_response(exc)
    return render_error(exc)


def _template_globals() -> dict[str, t.Any]:
    config = flask.current_app.extensions[EXTENSION_KEY]["config"]
    from heliograph.web import identity
    from heliograph.web.views import forms

    return {
        "current_user_obj": identity.identify()[1],
        "may": forms.may,
        "dataset_url": forms.dataset_url,
        "download_url": forms.download_url,
        "user_page_links": _user_page_links,
        "site_title": config.get("heliograph.site_title", "Heliograph"),
        "site_description": config.get("heliograph.site_description", ""),
    }


def _user_page_links(user_dict: c.Mapping[str, t.Any]) -> list[tuple[str, str]]:
    """The links loaded ``IUserPageLinks`` plugins add to a profile page."""
    links: list[tuple[str, str]] = []
    for plugin in _implementations("IUserPageLinks"):
        links.extend((str(label), str(url)) for label, url in plugin.user_page_links(user_dict))
    return links


# -- blueprints -----------------------------------------------------------------

ANNOUNCED_TYPES = frozenset({"dataset", "resource", "group", "organization"})


def register(app: Flask, blueprint: Blueprint, blueprint_type: str | None = None) -> None:
    """Register ``blueprint``; when its type is one of :data:`ANNOUNCED_TYPES`,
    send ``register_blueprint(blueprint_type, blueprint=blueprint)`` just before."""
    if blueprint_type in ANNOUNCED_TYPES:
        signals.register_blueprint.send(blueprint_type, blueprint=blueprint)
    app.register_blueprint(blueprint)


def _register_blueprints(app: Flask) -> None:
    from heliograph.web.views import admin, api, dataset, group, home, organization, resource, user

    register(app, home.blueprint)
    register(app, admin.blueprint)
    register(app, api.blueprint)
    accounts.exempt_api(api.blueprint)
    register(app, dataset.blueprint, "dataset")
    register(app, resource.blueprint, "resource")
    register(app, group.blueprint, "group")
    register(app, organization.blueprint, "organization")
    register(app, user.blueprint)
    _dataset_type_blueprints(app)
    _group_type_blueprints(app)
    _plugin_blueprints(app)


def _dataset_type_blueprints(app: Flask) -> None:
    """For each custom dataset type a plugin declares (``IDatasetForm.package_types()``),
    a dataset blueprint at ``/<type>`` and a resource blueprint at
    ``/<type>/<id>/resource``, announced ``'dataset'`` then ``'resource'``."""
    from heliograph.web.views import dataset, resource

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
    from heliograph.web.views import group

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
