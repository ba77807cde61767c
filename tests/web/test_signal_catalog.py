"""The live signal catalog: the sysadmin action ``signal_catalog_show``, and
``heliograph signals`` reading the configuration or a running portal."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

import heliograph.plugins as p
from heliograph import logic
from heliograph.cli import main
from heliograph.lib import signals
from tests.web.api_helpers import make_token

pinged = signals.ckanext.signal("catalog_test_ping", policy="isolate")


def catalog_test_receiver(sender: t.Any, **kwargs: t.Any) -> None:
    if sender == "bad":
        raise RuntimeError("a receiver failing on purpose")


class CatalogTestPlugin(p.SingletonPlugin):
    p.implements(p.ISignal)

    def get_signal_subscriptions(self) -> dict[t.Any, t.Any]:
        return {pinged: [{"receiver": catalog_test_receiver, "sender": "good"}]}


def _row(catalog: dict[str, t.Any], name: str) -> dict[str, t.Any]:
    return next(row for row in catalog["signals"] if row["name"] == name)


@pytest.fixture
def catalog_app(make_web_app: t.Any, with_plugins: t.Any) -> Flask:
    with_plugins.register("catalog_test", CatalogTestPlugin)
    app: Flask = make_web_app(heliograph__plugins="catalog_test")
    return app


@pytest.mark.heliograph_strict(False)
def test_the_action_shows_receivers_owners_sends_and_failures(catalog_app: Flask) -> None:
    admin = make_token("root", sysadmin=True)
    before = pinged.stats()
    pinged.send("good")
    pinged.send("other")
    pinged.connect(catalog_test_receiver, "bad", owner="catalog_test")
    try:
        pinged.send("bad")
        client = catalog_app.test_client()
        response = client.get("/api/3/action/signal_catalog_show", headers={"Authorization": admin})
    finally:
        pinged.disconnect(catalog_test_receiver, "bad", owner="catalog_test")
    assert response.status_code == 200
    catalog = response.get_json()["result"]
    row = _row(catalog, "catalog_test_ping")
    assert row["namespace"] == "ckanext"
    assert row["policy"] == "isolate"
    assert row["sent"] == before.sent + 3
    assert row["failed"] == before.failed + 1
    [receiver] = row["receivers"]
    assert receiver["name"] == f"{__name__}.catalog_test_receiver"
    assert receiver["owners"] == ["catalog_test"]
    assert sorted(receiver["senders"]) == ["'bad'", "'good'"]
    assert receiver["failures"] >= 1
    assert receiver["background"] is False
    assert {"calls", "seconds_mean", "seconds_p95_at_most"} <= set(receiver)
    core = _row(catalog, "action_succeeded")
    assert core["aliases"] == ["action_succeed"]
    assert core["signature"] == "(sender, context, data_dict, result)"
    assert isinstance(catalog["receiver_timing"], bool)
    assert catalog["multiprocess"] is False
    assert len(catalog["sends_per_minute"]) == 60
    assert catalog["sends_per_minute"][-1]["sent"] >= 0


def test_the_action_is_for_sysadmins_only(catalog_app: Flask) -> None:
    client = catalog_app.test_client()
    url = "/api/3/action/signal_catalog_show"
    response = client.get(url)
    assert response.status_code == 403
    assert response.get_json()["error"]["__type"] == "Authorization Error"
    user = make_token("plain")
    assert client.get(url, headers={"Authorization": user}).status_code == 403
    with pytest.raises(logic.NotAuthorized):
        logic.get_action("signal_catalog_show")({"user": None}, {})


def test_the_action_keeps_one_namespace_and_rejects_an_unknown_one(catalog_app: Flask) -> None:
    context = {"ignore_auth": True}
    only = logic.get_action("signal_catalog_show")(context, {"namespace": "ckan"})
    assert {row["namespace"] for row in only["signals"]} == {"ckan"}
    client = catalog_app.test_client()
    admin = make_token("root", sysadmin=True)
    for bad in ("nope", ["ckan", "ckanext"]):
        response = client.post(
            "/api/3/action/signal_catalog_show",
            json={"namespace": bad},
            headers={"Authorization": admin},
        )
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["__type"] == "Validation Error"
        assert error["namespace"] == ["Must be one of: ckan, ckanext"]


# -- heliograph signals --------------------------------------------------------------


def _run(*args: str, env: dict[str, str] | None = None) -> t.Any:
    return CliRunner().invoke(main, ["signals", *args], env=env, catch_exceptions=False)


def _isignal_lines(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  isignal_number("))
    return lines[start : start + 5]


def test_signals_loads_the_plugins_of_the_configuration_file(
    tmp_path: Path, with_plugins: t.Any
) -> None:
    config = tmp_path / "portal.ini"
    config.write_text("[app:main]\nheliograph.plugins = example_isignal\n", encoding="utf-8")
    result = _run("--config", str(config), env={"HELIOGRAPH_PLUGINS": None})  # type: ignore[dict-item]
    assert result.exit_code == 0, result.output
    listing = "\n".join(_isignal_lines(result.output))
    assert "heliograph.ext.example_isignal.plugin.x2" in listing
    assert "connected by: example_isignal" in listing
    assert not (tmp_path / "instance").exists()  # reading the configuration made nothing


def test_signals_loads_the_plugins_of_heliograph_plugins(with_plugins: t.Any) -> None:
    result = _run(env={"HELIOGRAPH_PLUGINS": "example_isignal", "HELIOGRAPH_CONFIG": None})  # type: ignore[dict-item]
    assert result.exit_code == 0, result.output
    assert "connected by: example_isignal" in "\n".join(_isignal_lines(result.output))


def test_signals_names_an_unknown_configured_plugin(with_plugins: t.Any) -> None:
    result = CliRunner().invoke(
        main, ["signals"], env={"HELIOGRAPH_PLUGINS": "no_such_plugin", "HELIOGRAPH_CONFIG": None}
    )
    assert result.exit_code == 1
    assert "no_such_plugin" in result.output


@pytest.fixture
def live_catalog_app(make_web_app: t.Any, with_plugins: t.Any, core_actions: None) -> Flask:
    with_plugins.register("catalog_test", CatalogTestPlugin)
    app: Flask = make_web_app(heliograph__plugins="catalog_test")
    return app


@pytest.fixture
def live_url(live_catalog_app: Flask) -> t.Iterator[str]:
    import threading

    import waitress

    server = waitress.create_server(live_catalog_app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, name="catalog-portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(timeout=10)


@pytest.mark.heliograph_strict(False)
def test_signals_url_shows_the_live_catalog_of_a_running_portal(live_url: str) -> None:
    import urllib.request

    admin = make_token("root", sysadmin=True)
    before = pinged.stats()
    pinged.send("good")
    pinged.send("good")
    urllib.request.urlopen(f"{live_url}/api/3/action/status_show", timeout=10).read()
    result = _run("--url", live_url, "--token", admin)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("live catalog of process ")
    start = next(i for i, line in enumerate(lines) if line.startswith("  catalog_test_ping("))
    assert f"sent={before.sent + 2} failed={before.failed}" in lines[start]
    assert lines[start + 1] == "      receivers: 1"
    assert lines[start + 2].startswith(
        f"        - {__name__}.catalog_test_receiver (senders: 'good'; "
        "connected by: catalog_test; failures: "
    )
    started = next(line for line in lines if line.startswith("  request_started("))
    assert "sent=0" not in started


def test_signals_url_explains_a_refusal_and_an_unreachable_portal(live_url: str) -> None:
    result = CliRunner().invoke(main, ["signals", "--url", live_url])
    assert result.exit_code == 1
    assert "signal_catalog_show is for sysadmins" in result.output
    assert "--token" in result.output
    plain = make_token("plain")
    result = CliRunner().invoke(main, ["signals", "--url", live_url, "--token", plain])
    assert result.exit_code == 1
    assert "refused the catalog (403)" in result.output
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    result = CliRunner().invoke(main, ["signals", "--url", f"http://127.0.0.1:{closed}"])
    assert result.exit_code == 1
    assert f"cannot reach http://127.0.0.1:{closed}" in result.output
    for bad in ("file:///etc/passwd", "portal.example.org"):
        result = CliRunner().invoke(main, ["signals", "--url", bad])
        assert result.exit_code == 2
        assert "is not an http(s) URL" in result.output
    result = CliRunner().invoke(main, ["signals", "--url", live_url, "--markdown"])
    assert result.exit_code == 2
    assert "drop --markdown" in result.output
