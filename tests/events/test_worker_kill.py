"""At least once, for real: worker processes killed with SIGKILL mid-run lose
no event, and events about one object still reach the receiver in order."""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import sqlalchemy as sa

import heliograph.plugins as p
import heliograph.plugins.toolkit as tk
from heliograph import model
from heliograph.events import outbox
from tests.events import background_samples as samples

EVENTS = 2000
KEYS = 20


def _heliograph() -> str:
    found = shutil.which("heliograph") or str(Path(sys.executable).with_name("heliograph"))
    assert Path(found).exists(), "the heliograph command is installed with the package"
    return found


def _start_worker(config: Path, record: Path, log: t.IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(samples.__file__).parent), *sys.path]),
        "EVENTS_RECORD": str(record),
        "EVENTS_DELAY": "0.002",
    }
    return subprocess.Popen(
        [_heliograph(), "worker", "--config", str(config)], env=env, stdout=log, stderr=log
    )


def _send_events() -> dict[str, list[int]]:
    """EVENTS events of package_patch about KEYS objects, committed in batches."""
    sent: dict[str, list[int]] = collections.defaultdict(list)
    session = model.Session()
    for start in range(0, EVENTS, 200):
        scope = outbox.begin(session)
        for seq in range(start, start + 200):
            key = f"object-{seq % KEYS}"
            tk.signals.action_succeeded.send(
                "package_patch",
                context={"user": None},
                data_dict={"id": key},
                result={"id": key, "seq": seq},
            )
            sent[key].append(seq)
        session.commit()
        scope.close(committed=True)
    return sent


def _pending(db: sa.Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM event_delivery")).scalar() or 0)


def test_killed_workers_lose_no_event_and_keep_order_per_object(
    db: sa.Engine, tmp_path: Path
) -> None:
    url = db.url.render_as_string(hide_password=False)
    config = tmp_path / "worker.ini"
    config.write_text(
        "[app:main]\n"
        f"sqlalchemy.url = {url}\n"
        f"heliograph.instance_path = {tmp_path / 'instance'}\n"
        "heliograph.events.lease_seconds = 1.5\n"
        "heliograph.events.batch = 20\n"
        "heliograph.events.poll_seconds = 0.05\n"
        "heliograph.events.retry_base_seconds = 0\n",
        encoding="utf-8",
    )
    record = tmp_path / "record.txt"
    p.register("bg_file_recorder", samples.FileRecorder, replace=True)
    with p.use_plugin("bg_file_recorder"):
        sent = _send_events()
    assert _pending(db) == EVENTS

    logs = (tmp_path / "workers.log").open("wb")
    workers = [_start_worker(config, record, logs) for _ in range(2)]
    kills = 0
    try:
        deadline = time.monotonic() + 180
        while kills < 3 and time.monotonic() < deadline:
            lines = record.read_text().count("\n") if record.exists() else 0
            if lines >= (kills + 1) * EVENTS // 5:
                victim = workers.pop(0)
                victim.send_signal(signal.SIGKILL)
                victim.wait()
                kills += 1
                workers.append(_start_worker(config, record, logs))
            time.sleep(0.02)
        while _pending(db) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
        logs.close()
    assert kills == 3, (tmp_path / "workers.log").read_text()
    assert _pending(db) == 0, (tmp_path / "workers.log").read_text()[-3000:]

    seen: dict[str, list[int]] = collections.defaultdict(list)
    attempts: dict[str, int] = {}
    for line in record.read_text().splitlines():
        event_id, key, attempt, _pid, seq = line.split()
        seen[key].append(int(seq))
        attempts[event_id] = max(attempts.get(event_id, 0), int(attempt))
    assert len(attempts) == EVENTS  # every event delivered, none missing
    assert max(attempts.values()) >= 2  # the killed workers' leases were taken over
    for key, seqs in sent.items():
        assert sorted(set(seen[key])) == seqs
        assert seen[key] == sorted(seen[key]), f"{key} delivered out of order"
