"""scripts/setup.sh: what it installs for `run` and for the tests, that it
says what it does, and that it skips pip while pyproject.toml is unchanged.
pip is replaced by a stand-in that records its arguments."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../pip-calls"
if [ "$4" = "--progress-bar" ]; then
    echo "Collecting flask"; echo "Successfully installed x"; exit "${FAKE_PIP_STATUS:-0}"
fi
"""


def _checkout(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON, encoding="utf-8")
    python.chmod(0o755)
    return tmp_path


def _setup(checkout: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "scripts/setup.sh", *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )


def _installs(checkout: Path) -> list[str]:
    calls = (checkout / ".venv" / "pip-calls").read_text(encoding="utf-8").splitlines()
    return [call.split()[-1] for call in calls if "-e" in call.split()]


def test_run_installs_the_portal_alone_and_says_so(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    first = _setup(checkout, "run")
    assert first.returncode == 0, first.stderr
    assert "installing what the portal needs to run" in first.stdout
    assert "setup:   Collecting flask" in first.stdout
    assert _installs(checkout) == ["."]
    again = _setup(checkout, "run")
    assert "up to date" in again.stdout
    assert _installs(checkout) == ["."]  # pip did not run again


def test_the_full_install_covers_run_and_a_change_installs_again(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    assert _setup(checkout).returncode == 0
    assert _installs(checkout) == [".[dev,otel]"]
    assert "up to date" in _setup(checkout, "run").stdout  # dev holds what run needs
    (checkout / "pyproject.toml").write_text('[project]\nname = "y"\n', encoding="utf-8")
    assert "installing" in _setup(checkout, "run").stdout
    assert _installs(checkout) == [".[dev,otel]", "."]
    assert "installing" in _setup(checkout).stdout  # the tools are wanted again
    assert _installs(checkout) == [".[dev,otel]", ".", ".[dev,otel]"]


def test_a_failed_pip_leaves_no_stamp(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path)
    failed = _setup(checkout, "run", FAKE_PIP_STATUS="1")
    assert failed.returncode != 0
    assert "pip failed" in failed.stderr
    assert not list((checkout / ".venv").glob(".installed-*"))
    assert _setup(checkout, "run").returncode == 0
    assert _installs(checkout) == [".", "."]
