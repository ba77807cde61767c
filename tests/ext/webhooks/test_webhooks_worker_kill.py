"""A real ``heliograph worker`` process killed with SIGKILL mid-delivery: the
message is delivered again by the next worker, with the same ``webhook-id``,
and every dataset's messages still arrive in order."""

from __future__ import annotations

import collections
import collections.abc as c
import os
import shutil
import signal
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import sqlalchemy as sa

from tests.ext.webhooks.webhook_helpers import Answer, Receiver

Call = c.Callable[..., t.Any]


def _heliograph() -> str:
    found = shutil.which("heliograph") or str(Path(sys.executable).with_name("heliograph"))
    assert Path(found).exists(), "the heliograph command is installed with the package"
    return found


def _pending(db: sa.Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM event_delivery")).scalar() or 0)


def test_a_killed_worker_s_delivery_is_made_again_with_the_same_id(
    call: Call, org: dict[str, t.Any], receiver: Receiver, db: sa.Engine, tmp_path: Path
) -> None:
    config = tmp_path / "worker.ini"
    config.write_text(
        "[app:main]\n"
        f"sqlalchemy.url = {db.url.render_as_string(hide_password=False)}\n"
        f"heliograph.instance_path = {tmp_path / 'instance'}\n"
        "heliograph.plugins = webhooks\n"
        "heliograph.events.lease_seconds = 2\n"
        "heliograph.events.poll_seconds = 0.05\n"
        "heliograph.webhooks.allow_http = true\n"
        "heliograph.webhooks.allowed_networks = 127.0.0.1/32\n"
        "heliograph.webhooks.retry_scale = 0\n"
        "heliograph.webhooks.timeout_seconds = 30\n",
        encoding="utf-8",
    )
    created = call(
        "webhook_create", {"url": receiver.url(), "topics": ["dataset/*"]}, user="editor"
    )
    receiver.script("/hook", Answer(200, delay=20.0))  # the first delivery hangs
    names = [f"set-{n}" for n in range(3)]
    for name in names:
        call("package_create", {"name": name, "owner_org": org["id"]}, user="editor")
    for round_ in range(3):
        for name in names:
            call("package_patch", {"id": name, "notes": str(round_)}, user="editor")

    log = (tmp_path / "workers.log").open("wb")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [_heliograph(), "worker", "--config", str(config)]
    first = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    second: subprocess.Popen[bytes] | None = None
    try:
        assert len(receiver.wait_for(1, timeout=60)) >= 1, "the first worker sent nothing"
        first.send_signal(signal.SIGKILL)  # mid-delivery: the receiver has not answered
        first.wait()
        killed_id = receiver.at()[0].headers["webhook-id"]
        second = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 90
        while _pending(db) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
        log.close()
    assert _pending(db) == 0, (tmp_path / "workers.log").read_text()[-3000:]

    got = receiver.at()
    ids = [r.headers["webhook-id"] for r in got]
    assert ids.count(killed_id) >= 2  # delivered again, same webhook-id
    by_dataset: dict[str, list[str]] = collections.defaultdict(list)
    for request in got:
        payload = request.verify(created["secret"])
        data = payload["data"]
        by_dataset[data["name"]].append(
            "create" if payload["type"] == "dataset/create" else data["notes"]
        )
    assert set(by_dataset) == set(names)
    for name in names:
        unique = list(dict.fromkeys(by_dataset[name]))  # a redelivery repeats a message
        assert unique == ["create", "0", "1", "2"], (name, by_dataset[name])
