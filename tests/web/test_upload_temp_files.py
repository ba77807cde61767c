"""Temporary upload files a killed process left behind are cleaned up."""

from __future__ import annotations

import collections.abc as c
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.datastructures import FileStorage

from heliograph.logic import uploads

pytestmark = pytest.mark.usefixtures("core_actions")

UPLOADER = textwrap.dedent(
    """
    import sys, time
    from heliograph.config import config
    from heliograph.logic import uploads

    config["heliograph.storage_path"] = sys.argv[1]

    class Slow:
        filename = "data.csv"
        sent = False
        def read(self, size):
            if not self.sent:
                self.sent = True
                return b"x" * 70000
            time.sleep(3600)

    class Session:
        info = {}

    uploads.stage(Slow(), Session())
    """
)


def _temp_files(storage: Path) -> list[Path]:
    folder = storage / "tmp"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def test_start_up_removes_the_file_of_an_upload_killed_mid_way(
    make_web_app: c.Callable[..., Flask], tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    uploader = subprocess.Popen([sys.executable, "-c", UPLOADER, str(storage)])
    try:
        deadline = time.monotonic() + 30
        while not _temp_files(storage) and time.monotonic() < deadline:
            time.sleep(0.05)
        (left,) = _temp_files(storage)
        os.kill(uploader.pid, signal.SIGKILL)
        uploader.wait(timeout=30)
    finally:
        if uploader.poll() is None:
            uploader.kill()
    in_use = storage / "tmp" / f"{uploads._temp_prefix()}inuse"
    in_use.write_bytes(b"this process is still writing it")
    make_web_app(heliograph__storage_path=str(storage))
    assert not left.exists()
    assert _temp_files(storage) == [in_use]


def test_old_temporary_files_age_out_while_running(
    make_web_app: c.Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = tmp_path / "storage"
    app = make_web_app(heliograph__storage_path=str(storage))
    (storage / "tmp").mkdir(parents=True, exist_ok=True)
    stale = storage / "tmp" / f"{uploads._temp_prefix()}stale"
    stale.write_bytes(b"left by an upload long ago")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(stale, (two_hours_ago, two_hours_ago))
    fresh = storage / "tmp" / f"{uploads._temp_prefix()}fresh"
    fresh.write_bytes(b"being written")
    monkeypatch.setattr(uploads, "_last_sweep", 0.0)

    class Session:
        def __init__(self) -> None:
            self.info: dict[str, object] = {}

    with app.app_context():
        staged = uploads.stage(
            FileStorage(io.BytesIO(b"a,b\n1,2\n"), filename="data.csv"), Session()
        )
    assert not stale.exists()
    assert fresh.exists() and staged.temp.exists()
