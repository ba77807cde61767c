"""The sysadmin page: loaded plugins and the signal catalog with receivers,
owners, send counts and failures; 403 for everyone else."""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

import heliograph.plugins as p
from heliograph.lib import signals
from tests.web.accounts_helpers import log_in, make_user
from tests.web.pages_helpers import make_portal

pytestmark = pytest.mark.usefixtures("core_actions")

pinged = signals.ckanext.signal("pages_admin_test_ping", policy="isolate")


def admin_test_receiver(sender: t.Any, **kwargs: t.Any) -> None:
    if sender == "bad":
        raise RuntimeError("a receiver failing on purpose")


class AdminTestPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> dict[t.Any, t.Any]:
        return {pinged: [admin_test_receiver]}


@pytest.fixture
def plugin_app(make_web_app: t.Any, with_plugins: t.Any) -> Flask:
    with_plugins.register("pages_admin_test", AdminTestPlugin)
    app: Flask = make_web_app(heliograph__plugins="pages_admin_test")
    make_portal()
    return app


@pytest.mark.parametrize("path", ["/ckan-admin", "/admin"])
def test_anonymous_and_non_sysadmins_get_403(client: FlaskClient, app: Flask, path: str) -> None:
    make_portal()
    response = client.get(path)
    assert response.status_code == 403
    assert "403 Forbidden" in response.get_data(as_text=True)
    for name in ("outsider", "editor"):
        log_in(client, name)
        response = client.get(path)
        assert response.status_code == 403
        assert "403 Forbidden" in response.get_data(as_text=True)
        assert "pages_admin_test_ping" not in response.get_data(as_text=True)


@pytest.mark.heliograph_strict(False)
def test_admin_page_shows_plugins_receivers_owners_and_counts(plugin_app: Flask) -> None:
    before = pinged.stats()
    pinged.send("good")
    pinged.send("good")
    pinged.send("bad")
    client = plugin_app.test_client()
    log_in(client, "boss")
    response = client.get("/ckan-admin")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "pages_admin_test" in html
    assert "AdminTestPlugin" in html
    row = re.search(r'<tr id="signal-ckanext-pages_admin_test_ping">(.*?)</tr>', html, re.S)
    assert row, "no row for the test signal"
    cells = row.group(1)
    assert "admin_test_receiver" in cells
    assert re.search(r'by <span class="owner">pages_admin_test</span>', cells)
    sent = int(re.search(r'class="num sent">(\d+)<', cells).group(1))  # type: ignore[union-attr]
    failed = int(re.search(r'class="num failed[^"]*">(\d+)<', cells).group(1))  # type: ignore[union-attr]
    assert sent == before.sent + 3
    assert failed == before.failed + 1
    assert "1 failed" in cells


def test_admin_page_lists_the_core_signals_with_contracts(client: FlaskClient, app: Flask) -> None:
    make_user("root")
    from heliograph import model

    session = model.Session()
    session.query(model.User).filter_by(name="root").one().sysadmin = True
    session.commit()
    model.Session.remove()
    log_in(client, "root")
    html = client.get("/admin").get_data(as_text=True)
    for name in ("action_succeeded", "request_started", "user_logged_in", "resource_download"):
        assert f'id="signal-ckan-{name}"' in html
    assert "ckan.action_succeeded(sender, " in html
    assert 'href="/ckan-admin"' in html  # the sysadmin's menu links the page


@pytest.mark.heliograph_strict(False)
def test_admin_page_plots_the_sends_per_minute_without_javascript(plugin_app: Flask) -> None:
    client = plugin_app.test_client()
    log_in(client, "boss")
    client.get("/ckan-admin")  # the minute's sends so far are counted from here on
    for _ in range(25):
        pinged.send("good")
    html = client.get("/ckan-admin").get_data(as_text=True)
    chart = re.search(r'<figure class="chart" id="sends-per-minute">(.*?)</figure>', html, re.S)
    assert chart, "no chart of the sends per minute"
    bars = re.findall(r'<rect class="bar" [^>]*height="([\d.]+)"><title>([^<]*)</title>', chart[1])
    assert len(bars) == 60
    peak = int(re.search(r'class="peak">(\d+)<', chart[1])[1])  # type: ignore[index]
    sends = [int(re.search(r": (\d+) sends", title)[1]) for _h, title in bars]  # type: ignore[index]
    assert max(sends) == peak
    assert sum(sends[-2:]) >= 25  # this minute (or the last one, if it just turned)
    for (height, _title), sent in zip(bars, sends, strict=True):
        assert float(height) == pytest.approx(120.0 * sent / peak, abs=0.01)
    assert "<script" not in html
    assert "Receiver timing is off" in html
