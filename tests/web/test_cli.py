"""``heliograph db init``, ``db upgrade`` and ``serve``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from heliograph.cli import main
from heliograph.model import migrate


def write_config(tmp_path: Path, **keys: str) -> Path:
    lines = ["[app:main]", f"heliograph.instance_path = {tmp_path / 'instance'}"]
    lines += [f"{key} = {value}" for key, value in keys.items()]
    path = tmp_path / "portal.ini"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HELIOGRAPH_")}


@pytest.mark.parametrize("command", [["db", "init"], ["db", "upgrade"]])
def test_db_commands_create_the_schema(tmp_path: Path, command: list[str]) -> None:
    db_file = tmp_path / "portal.db"
    config = write_config(tmp_path, **{"sqlalchemy.url": f"sqlite:///{db_file}"})
    result = CliRunner().invoke(main, [*command, "--config", str(config)], env=clean_env())
    assert result.exit_code == 0, result.output
    assert "is at revision" in result.output
    engine = sa.create_engine(f"sqlite:///{db_file}")
    try:
        assert migrate.is_current(engine)
        assert "package" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_db_upgrade_reads_heliograph_config_from_the_environment(tmp_path: Path) -> None:
    db_file = tmp_path / "env.db"
    config = write_config(tmp_path, **{"sqlalchemy.url": f"sqlite:///{db_file}"})
    env = {**clean_env(), "HELIOGRAPH_CONFIG": str(config)}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert db_file.is_file()


def test_bad_configuration_is_a_clear_error_naming_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path, **{"heliograph.max_request_size_mb": "lots"})
    result = CliRunner().invoke(main, ["serve", "--config", str(config)], env=clean_env())
    assert result.exit_code != 0
    assert "heliograph.max_request_size_mb" in result.output


def test_serve_prints_the_url_and_answers_the_api(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "heliograph.cli", "serve", "--port", "0", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        url = match.group(0)
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(url + "api/3", timeout=5) as response:
                    assert json.load(response) == {"version": 3}
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert (tmp_path / "instance" / "heliograph.db").is_file()  # created on first start
        with urllib.request.urlopen(url + "api/3/action/status_show", timeout=5) as response:
            body = json.load(response)
        # with the default site URL, links and help URLs name the server actually bound
        assert body["result"]["site_url"] == url.rstrip("/")
        assert body["help"].startswith(url + "api/3/action/help_show")
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_wsgi_entry_point_builds_the_app_from_the_environment(tmp_path: Path) -> None:
    config = write_config(tmp_path, **{"heliograph.site_title": "From the file"})
    code = (
        "from heliograph.wsgi import application;"
        "from heliograph.config import config;"
        "print(application.name, config['heliograph.site_title'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean_env(), "HELIOGRAPH_CONFIG": str(config)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "heliograph.web From the file"
