"""Which instance and database `heliograph` commands use: they say so, find
the instance the server uses whatever the current folder, and never quietly
create a new one (only `serve` and `db` do). And the request log."""

from __future__ import annotations

import logging
import os
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from heliograph import cli
from heliograph.cli import main
from heliograph.web.request_log import RequestLog


def _env() -> dict[str, str | None]:
    return {k: None for k in os.environ if k.startswith("HELIOGRAPH_")}


def _invoke(args: list[str], cwd: Path) -> t.Any:
    runner = CliRunner()
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, args, env=_env())
    finally:
        os.chdir(old)


def test_a_command_without_an_instance_stops_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "find_instance", lambda: None)
    result = _invoke(
        ["user", "add", "alice", "--email", "a@example.org", "--password", "x" * 9], tmp_path
    )
    assert result.exit_code != 0
    assert f"there is no portal instance at '{tmp_path / 'instance'}'" in result.output
    assert "--instance PATH" in result.output
    assert not (tmp_path / "instance").exists()


def test_commands_say_which_database_and_find_the_instance_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = tmp_path / "portal" / "instance"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = _invoke(["--instance", str(instance), "db", "init"], elsewhere)
    assert made.exit_code == 0, made.output
    expected = f"heliograph: instance {instance}, database sqlite:///{instance / 'heliograph.db'}"
    assert expected in made.stderr
    assert (instance / "heliograph.db").is_file()
    # A checkout whose instance exists is found from any folder.
    original = cli.find_instance
    monkeypatch.setattr(cli, "find_instance", lambda: original(tmp_path / "portal"))
    (tmp_path / "portal" / "pyproject.toml").write_text("", encoding="utf-8")
    added = _invoke(
        ["user", "add", "alice", "--email", "a@example.org", "--password", "long-enough-1"],
        elsewhere,
    )
    assert added.exit_code == 0, added.output
    assert expected in added.stderr
    assert not (elsewhere / "instance").exists()
    again = _invoke(["sysadmin", "add", "alice"], elsewhere)
    assert again.exit_code == 0, again.output
    assert "alice is now a sysadmin" in again.stdout


def test_find_instance_prefers_the_current_folder(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "instance").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("", encoding="utf-8")
    here = tmp_path / "here"
    here.mkdir()
    old = Path.cwd()
    os.chdir(here)
    try:
        assert cli.find_instance(checkout) == checkout / "instance"
        (here / "instance").mkdir()
        assert cli.find_instance(checkout) == here / "instance"
        (checkout / "pyproject.toml").unlink()
        (here / "instance").rmdir()
        assert cli.find_instance(checkout) is None
    finally:
        os.chdir(old)


def test_the_request_log_names_method_path_status_and_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Flask(__name__)

    @app.route("/hello")
    def hello() -> str:
        return "hi"

    app.wsgi_app = RequestLog(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="heliograph.requests"):
        client.get("/hello?q=sun&key=s3cret")
        client.post("/missing")
    lines = [r.getMessage() for r in caplog.records if r.name == "heliograph.requests"]
    assert len(lines) == 2
    assert lines[0].startswith("GET /hello?q=sun&key=*** 200 ") and lines[0].endswith(" ms")
    assert "s3cret" not in lines[0]
    assert lines[1].startswith("POST /missing 404 ")
