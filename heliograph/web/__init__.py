"""The web layer's application factory.

:func:`make_app` builds the portal; :mod:`heliograph.web.templating` installs
the templates and their globals, :mod:`heliograph.web.blueprints` registers
the blueprints of :mod:`heliograph.web.views` and of plugins. What a caller
can rely on:

- the database named by ``sqlalchemy.url`` is bound to ``model.Session`` and
  brought to the current schema on start (so the SQLite default is created on
  first start); the scoped session is removed at the end of every request;
- :data:`heliograph.config.config`, the one configuration object every layer
  reads, holds the configuration, and the plugins named in
  ``heliograph.plugins`` are loaded;
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
from flask import Flask
from sqlalchemy import Engine, make_url
from werkzeug.exceptions import HTTPException

from heliograph import events, logic, model, plugins
from heliograph.config import Config, ConfigError, configured_plugins, install, load
from heliograph.logic import uploads
from heliograph.model import migrate
from heliograph.web import accounts, blueprints, metrics, templating
from heliograph.web.application import Portal
from heliograph.web.views import api, render_error

__all__ = ["make_app"]

log = logging.getLogger(__name__)

EXTENSION_KEY = "heliograph"
"""``app.extensions[EXTENSION_KEY]`` holds ``{'engine': Engine}``, the bound database."""

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

    app = Portal(__name__)
    app.config["SECRET_KEY"] = config["heliograph.secret_key"]
    app.config["MAX_CONTENT_LENGTH"] = config["heliograph.max_request_size_mb"] * 1024 * 1024
    app.json.sort_keys = False  # type: ignore[attr-defined]

    engine = _bind_database(config)
    app.extensions[EXTENSION_KEY] = {"engine": engine}
    config = install(config)
    events.configure(config)
    _sweep_upload_files()
    _load_plugins(config)
    migrate.upgrade_plugins(engine, configured_plugins(config))

    app.teardown_appcontext(_remove_session)
    _read_revision_ahead(app, engine)
    _register_error_handlers(app)
    metrics.init_app(app)
    accounts.init_app(app)
    templating.init_app(app)
    with app.app_context():
        blueprints.register_all(app)
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
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


def _sweep_upload_files() -> None:
    """Delete the temporary files uploads abandoned (a process killed mid-upload)."""
    try:
        uploads.sweep_temporary(at_start=True)
    except OSError:
        log.warning("could not clean the temporary upload files", exc_info=True)


def _remove_session(_exc: BaseException | None) -> None:
    model.Session.remove()


MAX_READ_AHEAD = 4096
"""Kinds of request remembered as reading the dataset revision."""


def _read_revision_ahead(app: Flask, engine: Engine) -> None:
    """Send the dataset revision's query as a request starts, when requests of
    its kind read it (:func:`heliograph.model.revision.prefetch`) and no other
    request is under way in the process: its round trip then overlaps the
    request's own work before the read cache asks. With other requests under
    way the thread waits in libpq's one call instead, which costs less CPU
    (the others use the time meanwhile).

    A kind is the endpoint, with the action's name for the action API; a
    kind is learned from a request that read the token. Only GET and HEAD
    requests send ahead; every request settles what it sent as it ends."""
    reading: set[tuple[str | None, t.Any]] = set()
    under_way: list[None] = []  # one item per request between start and end

    def kind() -> tuple[str | None, t.Any]:
        request = flask.request
        endpoint = request.endpoint
        if endpoint == "api.action":
            return endpoint, (request.view_args or {}).get("name")
        return endpoint, None

    def start() -> None:
        request = flask.request
        alone = not under_way
        under_way.append(None)
        request.environ[_UNDER_WAY] = True
        if alone and request.method in ("GET", "HEAD") and kind() in reading:
            model.revision.prefetch(engine)

    def end(_exc: BaseException | None) -> None:
        request = flask.request
        if request.environ.pop(_UNDER_WAY, False) and under_way:
            under_way.pop()
        if model.revision.settle() and request.method in ("GET", "HEAD"):
            if len(reading) >= MAX_READ_AHEAD:
                reading.clear()
            reading.add(kind())

    app.before_request_funcs.setdefault(None, []).insert(0, start)
    app.teardown_request(end)


_UNDER_WAY = "heliograph.under_way"


# -- plugins ---------------------------------------------------------------------


def _load_plugins(config: Config) -> None:
    """Load the plugins named in ``heliograph.plugins`` that are not loaded yet
    (building the app again loads nothing twice), then rebuild the action registry."""
    names = configured_plugins(config)
    missing = [name for name in dict.fromkeys(names) if not plugins.plugin_loaded(name)]
    if missing:
        try:
            plugins.load(*missing)
        except plugins.PluginError as exc:
            raise ConfigError(f"configuration key 'heliograph.plugins': {exc}") from exc
    logic.registry.reset()


# -- errors ---------------------------------------------------------------------


def _register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, _handle_http_exception)


def _handle_http_exception(exc: HTTPException) -> t.Any:
    if flask.request.path == "/api" or flask.request.path.startswith("/api/"):
        return api.http_error_response(exc)
    return render_error(exc)
