"""Receiver timing (``heliograph.metrics.receiver_timing``): a histogram per
signal, receiver and plugin, shown by ``/metrics``, the live catalog and the
admin page; off by default, and then sends are not timed at all."""

from __future__ import annotations

import re
import typing as t

import pytest
from flask import Flask

import heliograph.plugins as p
from heliograph import logic
from heliograph import signals as core
from heliograph.lib import signals
from heliograph.metrics import receivers
from tests.web.accounts_helpers import log_in, make_user
from tests.web.metrics_helpers import scrape, value

SECRET = "timing-scrape-secret"

timed = signals.ckanext.signal("timing_test_ping", policy="isolate")


def timing_test_receiver(sender: t.Any, **kwargs: t.Any) -> None:
    if sender == "bad":
        raise RuntimeError("a receiver failing on purpose")


class Listener:
    def on_ping(self, sender: t.Any, **kwargs: t.Any) -> None:
        pass


LISTENER = Listener()


class TimingTestPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> dict[t.Any, t.Any]:
        return {timed: [timing_test_receiver, LISTENER.on_ping]}


class OtherOwnerPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> dict[t.Any, t.Any]:
        return {timed: [timing_test_receiver]}


@pytest.fixture(autouse=True)
def _no_observer_left() -> t.Iterator[None]:
    yield
    receivers.install(timing=False)


@pytest.fixture
def timed_app(make_web_app: t.Any, with_plugins: t.Any) -> Flask:
    with_plugins.register("timing_test", TimingTestPlugin)
    app: Flask = make_web_app(
        heliograph__plugins="timing_test",
        heliograph__metrics__token=SECRET,
        heliograph__metrics__receiver_timing="true",
    )
    return app


def _labels(receiver: str, plugin: str = "timing_test") -> dict[str, str]:
    return {"signal": "ckanext.timing_test_ping", "receiver": receiver, "plugin": plugin}


FUNCTION = f"{__name__}.timing_test_receiver"
METHOD = f"{__name__}.Listener.on_ping"
COUNT = "heliograph_receiver_duration_seconds_count"


@pytest.mark.heliograph_strict(False)
def test_receiver_calls_are_timed_per_receiver_and_plugin(timed_app: Flask) -> None:
    client = timed_app.test_client()
    assert core.settings()["receiver_observer"] is receivers.installed()
    before = scrape(client, SECRET)
    for sender in ("good", "good", "bad"):
        timed.send(sender)
    after = scrape(client, SECRET)
    for name in (FUNCTION, METHOD):
        assert value(after, COUNT, **_labels(name)) - value(before, COUNT, **_labels(name)) == 3
        assert value(after, "heliograph_receiver_duration_seconds_sum", **_labels(name)) > 0
    names = {info.name for info in timed.receiver_info()}
    assert {FUNCTION, METHOD} <= names  # the labels are the catalog's names
    inf = "heliograph_receiver_duration_seconds_bucket"
    assert value(after, inf, le="+Inf", **_labels(FUNCTION)) == value(
        after, COUNT, **_labels(FUNCTION)
    )


def test_timing_is_off_by_default_and_then_nothing_observes_sends(
    make_web_app: t.Any, with_plugins: t.Any
) -> None:
    with_plugins.register("timing_test", TimingTestPlugin)
    app = make_web_app(heliograph__plugins="timing_test", heliograph__metrics__token=SECRET)
    assert core.settings()["receiver_observer"] is None
    client = app.test_client()
    before = scrape(client, SECRET)
    timed.send("good")
    after = scrape(client, SECRET)
    assert value(after, COUNT, **_labels(FUNCTION)) == value(before, COUNT, **_labels(FUNCTION))
    catalog = logic.get_action("signal_catalog_show")({"ignore_auth": True}, {})
    assert catalog["receiver_timing"] is False


def test_the_catalog_and_the_admin_page_show_the_timings(timed_app: Flask) -> None:
    for _ in range(4):
        timed.send("good")
    catalog = logic.get_action("signal_catalog_show")({"ignore_auth": True}, {})
    assert catalog["receiver_timing"] is True
    row = next(r for r in catalog["signals"] if r["name"] == "timing_test_ping")
    by_name = {r["name"]: r for r in row["receivers"]}
    function = by_name[FUNCTION]
    assert function["calls"] >= 4
    assert function["seconds_mean"] == pytest.approx(function["seconds_total"] / function["calls"])
    assert function["seconds_p95_at_most"] is not None
    assert function["seconds_p95_at_most"] >= function["seconds_mean"] / 20
    make_user("boss")
    from heliograph import model

    session = model.Session()
    session.query(model.User).filter_by(name="boss").one().sysadmin = True
    session.commit()
    model.Session.remove()
    client = timed_app.test_client()
    log_in(client, "boss")
    html = client.get("/ckan-admin").get_data(as_text=True)
    table = re.search(r'<table class="slowest">(.*?)</table>', html, re.S)
    assert table, "no table of the slowest receivers"
    assert FUNCTION in table[1]
    assert re.search(r'class="hbar" style="width: 100.0%"', table[1])  # the slowest: full bar
    assert re.search(r"\d+ calls, mean [\d.]+ ms", html)
    assert "Receiver timing is off" not in html


def test_a_receiver_connected_by_another_plugin_gets_that_plugin_label(
    timed_app: Flask, with_plugins: t.Any
) -> None:
    client = timed_app.test_client()
    timed.send("good")
    p.unload("timing_test")
    with_plugins.register("other_owner", OtherOwnerPlugin)
    p.load("other_owner")
    before = scrape(client, SECRET)
    timed.send("good")
    after = scrape(client, SECRET)
    other = _labels(FUNCTION, "other_owner")
    assert value(after, COUNT, **other) - value(before, COUNT, **other) == 1
    assert value(after, COUNT, **_labels(FUNCTION)) == value(before, COUNT, **_labels(FUNCTION))


def test_labels_of_a_direct_connection_and_an_anonymous_signal() -> None:
    anonymous = core.Signal()
    anonymous.connect(timing_test_receiver)
    assert receivers.labels_of(anonymous, timing_test_receiver) == (
        "anonymous",
        FUNCTION,
        "direct",
    )
    assert receivers.labels_of(timed, LISTENER.on_ping)[1] == METHOD
