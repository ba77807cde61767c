"""The plugin's tables come from its own migrations, tracked apart from the core's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from heliograph.cli import main
from heliograph.model import migrate


def portal_env(tmp_path: Path, db_file: Path, plugins: str) -> dict[str, str]:
    """The environment of a portal on SQLite ``db_file`` with ``plugins``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELIOGRAPH_")}
    env["HELIOGRAPH_SQLALCHEMY_URL"] = f"sqlite:///{db_file}"
    env["HELIOGRAPH_INSTANCE_PATH"] = str(tmp_path / "instance")
    env["HELIOGRAPH_PLUGINS"] = plugins
    return env


def test_db_init_creates_the_tables_of_configured_plugins(tmp_path: Path) -> None:
    db_file = tmp_path / "portal.db"
    env = portal_env(tmp_path, db_file, "activity")
    result = CliRunner().invoke(main, ["db", "init"], env=env)
    assert result.exit_code == 0, result.output
    assert "tables of plugin activity are at revision activity_0001" in result.output
    engine = sa.create_engine(f"sqlite:///{db_file}")
    try:
        names = set(sa.inspect(engine).get_table_names())
        assert {"activity", "activity_scope", "alembic_version_activity"} <= names
        assert migrate.is_current(engine)  # the core's own version is untouched
        again = CliRunner().invoke(main, ["db", "upgrade"], env=env)
        assert again.exit_code == 0, again.output
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version_num FROM alembic_version_activity"))
            assert [row[0] for row in versions] == ["activity_0001"]
    finally:
        engine.dispose()


def test_without_the_plugin_no_plugin_tables_are_made(tmp_path: Path) -> None:
    db_file = tmp_path / "bare.db"
    result = CliRunner().invoke(main, ["db", "init"], env=portal_env(tmp_path, db_file, ""))
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{db_file}")
    try:
        assert "activity" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


UPGRADE_WITHOUT_FLASK = """
import sys
from heliograph.cli import main
try:
    main(["db", "upgrade"], standalone_mode=False)
finally:
    print("flask imported:", "flask" in sys.modules)
"""


def test_db_upgrade_migrates_plugin_tables_without_importing_flask(tmp_path: Path) -> None:
    db_file = tmp_path / "portal.db"
    env = portal_env(tmp_path, db_file, "activity")
    done = subprocess.run(
        [sys.executable, "-c", UPGRADE_WITHOUT_FLASK],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "tables of plugin activity are at revision activity_0001" in done.stdout
    assert "flask imported: False" in done.stdout
