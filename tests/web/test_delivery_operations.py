"""What operators see and do about background delivery: the admin page, the
``heliograph events`` command, and ``serve`` delivering on SQLite by itself."""

from __future__ import annotations

import re
import time
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

import heliograph.plugins as p
from heliograph import events, logic
from heliograph.cli import _start_delivery, main
from tests.events import background_samples as samples
from tests.web.accounts_helpers import csrf_token, log_in
from tests.web.pages_helpers import make_portal

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def failing_app(make_web_app: t.Any) -> t.Iterator[Flask]:
    samples.RECEIVED.clear()
    p.register("bg_failing", samples.Failing, replace=True)
    app: Flask = make_web_app(
        heliograph__plugins="bg_failing", heliograph__events__max_attempts="1"
    )
    make_portal()
    yield app
    p.unload("bg_failing")


def _patch_twice() -> None:
    for title in ("One", "Two"):
        logic.get_action("package_patch")({"user": "editor"}, {"id": "sunspots", "title": title})


def test_admin_page_shows_the_backlog_and_dead_deliveries_and_retries_them(
    failing_app: Flask, db: sa.Engine
) -> None:
    _patch_twice()
    client = failing_app.test_client()
    log_in(client, "boss")
    html = client.get("/ckan-admin").get_data(as_text=True)
    assert re.search(r'class="backlog">4<', html)  # 2 events x 2 receivers, undelivered
    assert "tests.events.background_samples:always_fails [background]" in html
    events.Worker(db).drain()
    html = client.get("/ckan-admin").get_data(as_text=True)
    assert re.search(r'class="dead bad">2<', html)
    assert "RuntimeError: always fails" in html
    dead = re.findall(r'<tr id="delivery-(\d+)">', html)
    assert len(dead) == 2
    response = client.post(
        "/ckan-admin/deliveries",
        data={
            "delivery_id": dead[0],
            "action": "retry",
            "csrf_token": csrf_token(client, "/ckan-admin"),
        },
    )
    assert response.status_code == 302
    html = client.get("/ckan-admin").get_data(as_text=True)
    assert re.search(r'class="dead bad">1<', html)
    assert re.search(r'class="backlog">1<', html)


def test_retrying_from_the_admin_page_needs_a_sysadmin_and_the_csrf_token(
    failing_app: Flask,
) -> None:
    client = failing_app.test_client()
    log_in(client, "editor")
    token = csrf_token(client, "/user/login")
    forbidden = client.post(
        "/ckan-admin/deliveries", data={"receiver": "x", "action": "retry", "csrf_token": token}
    )
    assert forbidden.status_code == 403
    log_in(client, "boss")
    no_token = client.post("/ckan-admin/deliveries", data={"receiver": "x", "action": "retry"})
    assert no_token.status_code == 400


def _config(tmp_path: Path, db: sa.Engine) -> Path:
    path = tmp_path / "portal.ini"
    path.write_text(
        "[app:main]\n"
        f"sqlalchemy.url = {db.url.render_as_string(hide_password=False)}\n"
        f"heliograph.instance_path = {tmp_path / 'instance'}\n",
        encoding="utf-8",
    )
    return path


def test_events_command_summarises_lists_retries_and_discards(
    failing_app: Flask, db: sa.Engine, tmp_path: Path
) -> None:
    _patch_twice()
    events.Worker(db).drain()
    config = _config(tmp_path, db)
    runner = CliRunner()
    summary = runner.invoke(main, ["events", "--config", str(config)])
    assert summary.exit_code == 0, summary.output
    line = next(row for row in summary.output.splitlines() if "always_fails" in row)
    assert "bg_failing" in line and line.split()[2:6] == ["0", "0", "0", "2"]
    listed = runner.invoke(main, ["events", "--config", str(config), "list", "--state", "dead"])
    assert listed.output.count("dead attempts=1") == 2
    assert "RuntimeError: always fails" in listed.output
    assert runner.invoke(main, ["events", "--config", str(config), "retry"]).exit_code == 2
    first = re.search(r"#(\d+) dead", listed.output).group(1)  # type: ignore[union-attr]
    retried = runner.invoke(main, ["events", "--config", str(config), "retry", first])
    assert "1 dead delivery will be retried now" in retried.output
    discarded = runner.invoke(main, ["events", "--config", str(config), "discard", "--all"])
    assert "discarded 1 dead delivery" in discarded.output
    left = runner.invoke(main, ["events", "--config", str(config), "list"])
    assert left.output.count("pending attempts=0") == 1


def test_serve_delivers_background_receivers_by_itself_on_sqlite(
    make_web_app: t.Any, db: sa.Engine
) -> None:
    samples.RECEIVED.clear()
    p.register("bg_updates", samples.Updates, replace=True)
    app = make_web_app(heliograph__plugins="bg_updates")
    make_portal()
    runtime = _start_delivery(app)
    try:
        if db.dialect.name != "sqlite":
            assert runtime is None  # PostgreSQL: workers run as `heliograph worker`
            return
        assert runtime is not None
        logic.get_action("package_patch")({"user": "editor"}, {"id": "sunspots", "title": "Live"})
        deadline = time.monotonic() + 10
        while not any(r["receiver"] == "record" for r in samples.RECEIVED):
            assert time.monotonic() < deadline, "the in-process worker delivered nothing"
            time.sleep(0.02)
    finally:
        if runtime is not None:
            runtime.stop()
        p.unload("bg_updates")
    (got,) = [r for r in samples.RECEIVED if r["receiver"] == "record"]
    assert got["kwargs"]["result"]["title"] == "Live"


def test_login_signals_reach_background_receivers_without_waiting_on_a_lock(
    make_web_app: t.Any, db: sa.Engine
) -> None:
    samples.RECEIVED.clear()
    p.register("bg_everything", samples.Everything, replace=True)
    app = make_web_app(heliograph__plugins="bg_everything")
    try:
        make_portal()
        client = app.test_client()
        started = time.monotonic()
        assert log_in(client, "editor", "wrong password").status_code == 401
        assert log_in(client, "editor").status_code == 302
        assert time.monotonic() - started < 10  # no write lock waited out
        events.Worker(db).drain()
    finally:
        p.unload("bg_everything")
    signals = [r["event"].signal for r in samples.RECEIVED]
    assert "ckan.failed_login" in signals
    assert "ckan.user_logged_in" in signals
    (logged_in,) = [r for r in samples.RECEIVED if r["event"].signal == "ckan.user_logged_in"]
    assert logged_in["kwargs"]["user"]["name"] == "editor"
