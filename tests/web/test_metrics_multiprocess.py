"""Several processes sharing ``PROMETHEUS_MULTIPROC_DIR`` report together:
whichever process answers ``/metrics`` adds up the counts of all of them
(separate Python processes, and gunicorn with two workers, whichever of
them answers each request)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

from heliograph.model import engine_for, migrate
from tests.web.metrics_helpers import parse, value

SECRET = "multiprocess-scrape-secret"
ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import os
    import sys
    from heliograph.web import make_app

    client = make_app().test_client()
    for _ in range(int(sys.argv[1])):
        assert client.get("/api/3/action/status_show").status_code == 200
    if sys.argv[2] == "scrape":
        token = os.environ["HELIOGRAPH_METRICS_TOKEN"]
        response = client.get("/metrics", headers={"Authorization": token})
        assert response.status_code == 200, response.status_code
        sys.stdout.write(response.get_data(as_text=True))
    """
)


def _environment(tmp_path: Path, metrics_dir: Path) -> dict[str, str]:
    database = tmp_path / "portal.db"
    url = f"sqlite:///{database}"
    if not database.exists():
        engine = engine_for(url)  # migrated once, before the processes start
        migrate.upgrade(engine)
        engine.dispose()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("HELIOGRAPH_") and key != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        HELIOGRAPH_SQLALCHEMY_URL=url,
        HELIOGRAPH_INSTANCE_PATH=str(tmp_path / "instance"),
        HELIOGRAPH_METRICS_TOKEN=SECRET,
        HELIOGRAPH_PLUGINS="",
        PYTHONPATH=str(ROOT),
    )
    return env


def test_processes_writing_into_one_folder_are_added_up(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = _environment(tmp_path, metrics_dir)
    counts = [3, 5, 7]
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(n), "-"], env=env, cwd=tmp_path)
        for n in counts
    ]
    for child in children:
        assert child.wait(timeout=120) == 0
    assert len(list(metrics_dir.glob("*.db"))) >= len(counts)  # one file set per process
    scraper = subprocess.run(
        [sys.executable, "-c", CHILD, "0", "scrape"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    samples = parse(scraper.stdout)
    calls = sum(counts)
    requests = "heliograph_http_requests_total"
    assert value(samples, requests, endpoint="api.action", method="GET", status="200") == calls
    actions = "heliograph_action_duration_seconds_count"
    assert value(samples, actions, action="status_show", status="ok") == calls
    sends = "heliograph_signal_sends_total"
    assert value(samples, sends, signal="ckan.before_action") == calls
    assert value(samples, sends, signal="ckan.action_succeeded") == calls
    # each process's request_started: its own calls, and the scraper's one request
    assert value(samples, sends, signal="ckan.request_started") == calls + 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Connection": "close"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_gunicorn_workers_report_together(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = _environment(tmp_path, metrics_dir)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "heliograph.wsgi:application",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{base}/api/3/action/status_show")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "gunicorn did not start"
            assert server.poll() is None, "gunicorn exited"
            time.sleep(0.2)
        requests = "heliograph_http_requests_total"
        actions = "heliograph_action_duration_seconds_count"
        labels = {"endpoint": "api.action", "method": "GET", "status": "200"}
        status, body = _get(f"{base}/metrics", SECRET)
        assert status == 200
        before = parse(body.decode())  # the start-up polls, however many were answered
        calls = 40
        for _ in range(calls):
            assert _get(f"{base}/api/3/action/status_show")[0] == 200
        assert _get(f"{base}/metrics")[0] == 403
        status, body = _get(f"{base}/metrics", SECRET)
        assert status == 200
        after = parse(body.decode())
        assert value(after, requests, **labels) - value(before, requests, **labels) == calls
        ok = {"action": "status_show", "status": "ok"}
        assert value(after, actions, **ok) - value(before, actions, **ok) == calls
    finally:
        server.terminate()
        server.wait(timeout=30)
