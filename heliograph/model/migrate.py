"""Schema migrations with Alembic: ``heliograph db init`` and ``heliograph db upgrade``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

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
