"""``/metrics``: who may read it, and what it counts (requests, actions,
signal sends and failures, background delivery)."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa
from flask import Flask

import heliograph.plugins as p
from heliograph import events, logic, model
from heliograph.lib import signals
from tests.events import background_samples as samples
from tests.web.accounts_helpers import log_in, make_user
from tests.web.api_helpers import make_token
from tests.web.metrics_helpers import parse, scrape, total, value
from tests.web.pages_helpers import make_portal

SECRET = "a-long-random-scrape-secret"

pinged = signals.ckanext.signal("metrics_test_ping", policy="isolate")


def metrics_test_receiver(sender: t.Any, **kwargs: t.Any) -> None:
    if sender == "bad":
        raise RuntimeError("a receiver failing on purpose")


class MetricsTestPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> dict[t.Any, t.Any]:
        return {pinged: [metrics_test_receiver]}


@pytest.fixture
def metrics_app(make_web_app: t.Any) -> Flask:
    app: Flask = make_web_app(heliograph__metrics__token=SECRET)
    return app


def test_metrics_are_refused_to_anonymous_users_and_wrong_tokens(make_web_app: t.Any) -> None:
    client = make_web_app().test_client()  # no token configured
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 403
    app = make_web_app(heliograph__metrics__token=SECRET)
    client = app.test_client()
    response = client.get("/metrics")
    assert response.status_code == 403
    assert "heliograph.metrics.token" in response.get_data(as_text=True)
    assert "heliograph_" not in response.get_data(as_text=True)
    for wrong in ("Bearer nope", f"Bearer {SECRET}x", SECRET[:-1]):
        assert client.get("/metrics", headers={"Authorization": wrong}).status_code == 403


def test_the_configured_token_reads_the_metrics(metrics_app: Flask) -> None:
    client = metrics_app.test_client()
    for header in (f"Bearer {SECRET}", SECRET):
        response = client.get("/metrics", headers={"Authorization": header})
        assert response.status_code == 200
        assert response.content_type.startswith("text/plain; version=")
        assert "# TYPE heliograph_http_requests_total counter" in response.get_data(as_text=True)


def test_sysadmins_read_the_metrics_with_a_token_or_logged_in(make_web_app: t.Any) -> None:
    client = make_web_app().test_client()
    user_token = make_token("plain")
    admin_token = make_token("root", sysadmin=True)
    assert client.get("/metrics", headers={"Authorization": user_token}).status_code == 403
    response = client.get("/metrics", headers={"Authorization": admin_token})
    assert response.status_code == 200
    assert "heliograph_signal_sends_total" in response.get_data(as_text=True)
    make_user("boss")
    browser = make_web_app().test_client()
    log_in(browser, "boss")
    assert browser.get("/metrics").status_code == 403
    from heliograph import model

    session = model.Session()
    session.query(model.User).filter_by(name="boss").one().sysadmin = True
    session.commit()
    model.Session.remove()
    assert browser.get("/metrics").status_code == 200


def test_http_requests_are_counted_by_endpoint_method_and_status(metrics_app: Flask) -> None:
    client = metrics_app.test_client()
    before = scrape(client, SECRET)
    client.get("/api/3/action/status_show")
    client.get("/api/3/action/status_show")
    client.get("/no/such/page")
    client.post("/api/3/action/status_show", json={})
    after = scrape(client, SECRET)

    def delta(**labels: str) -> float:
        name = "heliograph_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta(endpoint="api.action", method="GET", status="200") == 2
    assert delta(endpoint="api.action", method="POST", status="200") == 1
    assert delta(endpoint="unmatched", method="GET", status="404") == 1
    assert delta(endpoint="metrics.scrape", method="GET", status="200") == 1  # the first scrape
    seconds = "heliograph_http_request_duration_seconds_count"
    assert (
        value(after, seconds, endpoint="api.action") - value(before, seconds, endpoint="api.action")
        == 3
    )


def test_actions_are_counted_and_timed_by_name_and_status(
    metrics_app: Flask, stub_actions: t.Any
) -> None:
    client = metrics_app.test_client()
    before = scrape(client, SECRET)
    calls = {
        "hg_test_echo": "ok",
        "hg_test_invalid": "validation_error",
        "hg_test_denied": "not_authorized",
        "hg_test_missing": "not_found",
        "hg_test_boom": "exception",
    }
    for name in calls:
        client.get(f"/api/3/action/{name}")
    logic.get_action("hg_test_echo")({}, {})  # not over HTTP: counted all the same
    after = scrape(client, SECRET)
    count = "heliograph_action_duration_seconds_count"
    for name, status in calls.items():
        wanted = 2 if name == "hg_test_echo" else 1
        got = value(after, count, action=name, status=status) - value(
            before, count, action=name, status=status
        )
        assert got == wanted, (name, status)
        assert value(after, "heliograph_action_duration_seconds_sum", action=name, status=status)
        if status != "ok":
            assert value(after, count, action=name, status="ok") == 0


def test_an_action_observer_that_fails_never_breaks_the_action(
    stub_actions: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(name: str, seconds: float, error: BaseException | None) -> None:
        raise RuntimeError("observer down")

    previous = logic.set_action_observer(broken)
    try:
        result = logic.get_action("hg_test_echo")({}, {"a": 1})
    finally:
        logic.set_action_observer(previous)
    assert result["data"] == {"a": 1}
    assert "action observer failed on action hg_test_echo" in caplog.text
    with pytest.raises(TypeError, match="must be callable"):
        logic.set_action_observer("not callable")  # type: ignore[arg-type]


@pytest.mark.heliograph_strict(False)
def test_signal_sends_and_failures_are_counted_per_signal_and_receiver(
    make_web_app: t.Any, with_plugins: t.Any
) -> None:
    with_plugins.register("metrics_test", MetricsTestPlugin)
    app = make_web_app(heliograph__plugins="metrics_test", heliograph__metrics__token=SECRET)
    client = app.test_client()
    before = scrape(client, SECRET)
    pinged.send("good")
    pinged.send("bad")
    pinged.send("bad")
    after = scrape(client, SECRET)
    label = "ckanext.metrics_test_ping"
    sends = "heliograph_signal_sends_total"
    failures = "heliograph_signal_failures_total"
    assert value(after, sends, signal=label) - value(before, sends, signal=label) == 3
    assert value(after, failures, signal=label) - value(before, failures, signal=label) == 2
    assert value(after, sends, signal=label) == pinged.stats().sent
    receiver = f"{__name__}.metrics_test_receiver"
    by_receiver = "heliograph_receiver_failures_total"
    labels = {"signal": label, "receiver": receiver, "plugin": "metrics_test"}
    assert value(after, by_receiver, **labels) - value(before, by_receiver, **labels) == 2
    assert total(after, sends, signal="ckan.request_started") >= 2  # the two scrapes


@pytest.mark.usefixtures("core_actions")
def test_background_delivery_backlog_retries_and_dead_are_gauges_per_receiver(
    make_web_app: t.Any, db: sa.Engine
) -> None:
    p.register("bg_failing", samples.Failing, replace=True)
    try:
        app = make_web_app(
            heliograph__plugins="bg_failing",
            heliograph__events__max_attempts="2",
            heliograph__events__retry_base_seconds="3600",
            heliograph__metrics__token=SECRET,
        )
        make_portal()
        client = app.test_client()
        fails = "tests.events.background_samples:always_fails"
        labels = {"receiver": fails, "plugin": "bg_failing", "kind": "signal"}
        idle = scrape(client, SECRET)
        assert value(idle, "heliograph_delivery_backlog", **labels) == 0
        assert value(idle, "heliograph_delivery_dead", **labels) == 0
        for title in ("One", "Two"):
            logic.get_action("package_patch")(
                {"user": "editor"}, {"id": "sunspots", "title": title}
            )
        pending = scrape(client, SECRET)
        assert value(pending, "heliograph_delivery_backlog", **labels) == 2
        assert value(pending, "heliograph_delivery_oldest_pending_seconds", **labels) >= 0
        assert total(pending, "heliograph_delivery_backlog", plugin="bg_failing") == 4
        events.Worker(db).run_once()  # first attempt fails: retried in an hour
        retrying = scrape(client, SECRET)
        # in order per object: the second event waits behind the first
        assert value(retrying, "heliograph_delivery_retrying", **labels) == 1
        assert value(retrying, "heliograph_delivery_backlog", **labels) == 2
        deliveries = model.EventDelivery.__table__
        for _attempt in range(6):  # make every retry due now, until both are dead
            with db.begin() as connection:
                connection.execute(sa.update(deliveries).values(next_attempt_at=0))
            events.Worker(db).run_once()
        dead = scrape(client, SECRET)
        assert value(dead, "heliograph_delivery_dead", **labels) == 2
        assert value(dead, "heliograph_delivery_backlog", **labels) == 0
        assert value(dead, "heliograph_delivery_retrying", **labels) == 0
    finally:
        p.unload("bg_failing")


def test_the_page_parses_as_prometheus_text(metrics_app: Flask) -> None:
    response = metrics_app.test_client().get(
        "/metrics", headers={"Authorization": f"Bearer {SECRET}"}
    )
    samples_found = parse(response.get_data(as_text=True))
    names = {name for name, _labels in samples_found}
    assert "heliograph_signal_sends_total" in names
    assert "heliograph_http_requests_total" in names


def test_observations_wait_for_a_sync_and_a_full_queue_records_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A request and an action call are queued (no lock taken); reading the
    metrics syncs first, so nothing observed is missing from what it shows,
    and past the bound the observer records the queue itself."""
    from heliograph import metrics

    def count(metric: str, **labels: str) -> float:
        return value(parse(metrics.exposition().decode()), metric, **labels)

    requests = "heliograph_http_requests_total"
    actions = "heliograph_action_duration_seconds_count"
    before = count(requests, endpoint="queued", method="GET", status="200")
    before_actions = count(actions, action="queued_action", status="ok")
    metrics.observe_request("queued", "GET", 200, 0.01)
    metrics.observe_action("queued_action", "ok", 0.02)
    assert count(requests, endpoint="queued", method="GET", status="200") == before + 1
    assert count(actions, action="queued_action", status="ok") == before_actions + 1

    monkeypatch.setattr(metrics, "MAX_OBSERVED", 3)
    for _ in range(5):
        metrics.observe_request("queued", "GET", 200, 0.01)
    assert len(metrics._observed) <= 3
    assert count(requests, endpoint="queued", method="GET", status="200") == before + 6
