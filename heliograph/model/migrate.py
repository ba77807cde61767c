"""Schema migrations with Alembic: ``heliograph db init`` and ``heliograph db upgrade``.

The core schema has its revisions in ``migrations/`` beside this module; a
plugin ships its own in a ``migrations`` folder beside its module, applied by
:func:`upgrade_plugins`. Nothing here imports the web layer.
"""

from __future__ import annotations

import collections.abc as c
import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from heliograph import plugins
from heliograph.config import ConfigError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine, plugin: PluginMigrations | None = None) -> AlembicConfig:
    """The Alembic configuration of the core schema, or of ``plugin``'s tables:
    a plugin's revisions live in its own folder and are tracked in a version
    table of their own (``alembic_version_<plugin>``), so its history never
    mixes with the core's and unloading it leaves the core schema alone."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if plugin is not None:
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", str(plugin.folder))
        cfg.attributes["version_table"] = plugin.version_table
    return cfg


@dataclass(frozen=True)
class PluginMigrations:
    """Plugin ``name``'s Alembic revisions, in ``folder``."""

    name: str
    folder: Path

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.name}"


def upgrade(engine: Engine, revision: str = "head", plugin: PluginMigrations | None = None) -> None:
    """Bring the core schema (or ``plugin``'s tables) to ``revision``, creating
    it on an empty database."""
    cfg = alembic_config(engine, plugin)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(engine: Engine, plugin: PluginMigrations | None = None) -> str | None:
    with engine.connect() as connection:
        options = {} if plugin is None else {"version_table": plugin.version_table}
        return MigrationContext.configure(connection, opts=options).get_current_revision()


def head_revision(engine: Engine, plugin: PluginMigrations | None = None) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine, plugin)).get_current_head()


def is_current(engine: Engine, plugin: PluginMigrations | None = None) -> bool:
    return current_revision(engine, plugin) == head_revision(engine, plugin)


def upgrade_plugins(engine: Engine, names: c.Iterable[str]) -> dict[str, str | None]:
    """Bring the tables of plugins ``names`` that ship Alembic migrations (a
    ``migrations`` folder beside the plugin's module) to their latest revision;
    returns each such plugin's revision. A plugin whose tables cannot be
    migrated raises :class:`~heliograph.config.ConfigError` naming it."""
    revisions: dict[str, str | None] = {}
    for name in dict.fromkeys(names):
        folder = plugins.plugin_folder(name, "migrations")
        if folder is None:
            continue
        wanted = PluginMigrations(name, folder)
        try:
            if not is_current(engine, wanted):
                log.info("bringing the tables of plugin %r to their current revision", name)
                upgrade(engine, plugin=wanted)
            revisions[name] = current_revision(engine, wanted)
        except Exception as exc:
            raise ConfigError(
                f"configuration key 'heliograph.plugins': cannot migrate the tables of "
                f"plugin {name!r}: {type(exc).__name__}: {exc}"
            ) from exc
    return revisions
