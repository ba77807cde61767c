"""The core signals the web layer sends: request_started, request_finished, register_blueprint."""

from __future__ import annotations

import collections.abc as c
import typing as t

import flask
import pytest
from flask import Flask, Response

import heliograph.signals as hsignals
from heliograph.config import ConfigError
from heliograph.lib import signals
from heliograph.web import blueprints

pytestmark = pytest.mark.usefixtures("stub_pages")

Calls = list[tuple[t.Any, dict[str, t.Any]]]

PATHS = [
    "/api/3/action/hg_test_echo?a=1",  # API, success
    "/api/3/action/hg_test_invalid",  # API, 409
    "/api/3/action/no_such_action",  # API, bare 400
    "/api/3/action/hg_test_boom",  # API, 500
    "/dataset/",  # page
    "/dataset/first",  # page
    "/dataset/nope",  # page, 404
    "/static/style.css",  # static file
    "/no/such/page",  # no route
]


@pytest.fixture(autouse=True)
def isolating() -> c.Iterator[None]:
    """The core signals' 'isolate' policy in force, whatever the suite set."""
    previous = hsignals.isolate_failures(True)
    yield
    hsignals.isolate_failures(previous)


def recorder(calls: Calls) -> c.Callable[..., None]:
    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append((sender, kwargs))

    return receiver


def boom(sender: t.Any, **kwargs: t.Any) -> None:
    raise RuntimeError("a subscriber that fails")


# -- request_started / request_finished -------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
def test_request_started_fires_once_with_the_app_as_sender(app: Flask, path: str) -> None:
    calls: Calls = []
    client = app.test_client()
    with signals.request_started.connected_to(recorder(calls)):
        client.get(path)
    assert calls == [(app, {})]


@pytest.mark.parametrize("path", PATHS)
def test_request_finished_fires_once_with_the_response(app: Flask, path: str) -> None:
    calls: Calls = []
    client = app.test_client()
    with signals.request_finished.connected_to(recorder(calls)):
        response = client.get(path)
    assert len(calls) == 1
    sender, kwargs = calls[0]
    assert sender is app
    assert set(kwargs) == {"response"}
    assert isinstance(kwargs["response"], Response)
    assert kwargs["response"].status_code == response.status_code


def test_request_signals_fire_in_order_around_the_action(app: Flask) -> None:
    order: list[str] = []

    def started(sender: t.Any, **kwargs: t.Any) -> None:
        order.append("started")

    def succeeded(sender: t.Any, **kwargs: t.Any) -> None:
        order.append(f"action {sender}")

    def finished(sender: t.Any, **kwargs: t.Any) -> None:
        order.append("finished")

    client = app.test_client()
    with (
        signals.request_started.connected_to(started),
        signals.action_succeeded.connected_to(succeeded),
        signals.request_finished.connected_to(finished),
    ):
        client.post("/api/3/action/hg_test_write", json={})
    assert order == ["started", "action hg_test_write", "finished"]


def test_request_signals_fire_for_oversize_bodies(make_web_app: t.Any) -> None:
    app = make_web_app(heliograph__max_request_size_mb="1")
    started: Calls = []
    finished: Calls = []
    with (
        signals.request_started.connected_to(recorder(started)),
        signals.request_finished.connected_to(recorder(finished)),
    ):
        response = app.test_client().post(
            "/api/3/action/hg_test_write", data=b"x" * (2 * 1024 * 1024)
        )
    assert response.status_code == 413
    assert len(started) == 1 and len(finished) == 1


def test_request_signals_are_filtered_to_their_app(make_web_app: t.Any) -> None:
    first, second = make_web_app(), make_web_app()
    calls: Calls = []
    with signals.request_started.connected_to(recorder(calls)):
        second.test_client().get("/api")
    assert [sender for sender, _ in calls] == [second]
    assert first is not second


@pytest.mark.parametrize("path", PATHS)
def test_raising_request_subscribers_leave_the_response_unchanged(app: Flask, path: str) -> None:
    client = app.test_client()
    before = client.get(path)
    with (
        signals.request_started.connected_to(boom),
        signals.request_finished.connected_to(boom),
    ):
        after = client.get(path)
    assert after.status_code == before.status_code
    assert after.get_data() == before.get_data()
    assert after.headers["Content-Type"] == before.headers["Content-Type"]


def test_raising_request_subscriber_does_not_stop_the_others(app: Flask) -> None:
    calls: Calls = []
    with (
        signals.request_started.connected_to(boom),
        signals.request_started.connected_to(recorder(calls)),
    ):
        response = app.test_client().get("/api/3")
    assert response.status_code == 200
    assert len(calls) == 1


# -- register_blueprint -------------------------------------------------------------------


def blueprint_recorder(seen: list[tuple[str, str, bool]]) -> c.Callable[..., None]:
    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        blueprint = kwargs["blueprint"]
        assert set(kwargs) == {"blueprint"}
        assert isinstance(blueprint, flask.Blueprint)
        seen.append((sender, blueprint.name, blueprint.name in flask.current_app.blueprints))

    return receiver


def test_register_blueprint_fires_before_each_core_typed_blueprint(make_web_app: t.Any) -> None:
    seen: list[tuple[str, str, bool]] = []
    with signals.register_blueprint.connected_to(blueprint_recorder(seen)):
        app = make_web_app()
    assert seen == [
        ("dataset", "dataset", False),
        ("resource", "resource", False),
        ("group", "group", False),
        ("organization", "organization", False),
    ]
    assert {"dataset", "resource", "group", "organization", "user", "api"} <= set(app.blueprints)


def test_register_blueprint_precedes_registration(
    make_web_app: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: list[str] = []
    real = Flask.register_blueprint

    def register_blueprint(self: Flask, blueprint: flask.Blueprint, **options: t.Any) -> None:
        log.append(f"register {blueprint.name}")
        real(self, blueprint, **options)

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        log.append(f"signal {sender} {kwargs['blueprint'].name}")

    monkeypatch.setattr(Flask, "register_blueprint", register_blueprint)
    with signals.register_blueprint.connected_to(receiver):
        make_web_app()
    for name in ("dataset", "resource", "group", "organization"):
        assert log.index(f"signal {name} {name}") + 1 == log.index(f"register {name}")
    assert not any(entry.startswith("signal") and "user" in entry for entry in log)


class CameraForm:
    """A plugin declaring a custom dataset type, as an IDatasetForm implementation would."""

    name = "camera_form"

    def package_types(self) -> list[str]:
        return ["camera"]


class StationGroupForm:
    name = "station_form"
    is_organization = True

    def group_types(self) -> list[str]:
        return ["station"]


@pytest.fixture
def custom_types(monkeypatch: pytest.MonkeyPatch) -> list[t.Any]:
    plugins: dict[str, list[t.Any]] = {
        "IDatasetForm": [CameraForm()],
        "IGroupForm": [StationGroupForm()],
        "IBlueprint": [],
    }
    monkeypatch.setattr(blueprints, "_implementations", lambda name: plugins.get(name, []))
    return plugins["IDatasetForm"]


def test_custom_dataset_type_gets_dataset_then_resource_blueprints(
    make_web_app: t.Any, custom_types: list[t.Any]
) -> None:
    seen: list[tuple[str, str, bool]] = []
    with signals.register_blueprint.connected_to(blueprint_recorder(seen)):
        app = make_web_app()
    assert seen[4:] == [
        ("dataset", "camera", False),
        ("resource", "camera_resource", False),
        ("organization", "station", False),
    ]
    client = app.test_client()
    assert client.get("/camera/camera-one").status_code == 200
    assert client.get("/camera/first").status_code == 404  # a dataset of another type
    assert client.get("/dataset/camera-one").status_code == 404


def test_dataset_type_declared_twice_is_a_startup_error(
    make_web_app: t.Any, custom_types: list[t.Any]
) -> None:
    custom_types.append(CameraForm())
    with pytest.raises(ConfigError, match="camera"):
        make_web_app()


def test_plugin_blueprints_are_registered(
    make_web_app: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = flask.Blueprint("hello", __name__)
    extra.add_url_rule("/hello", "hello", lambda: "hello")

    class HelloPlugin:
        def get_blueprint(self) -> list[flask.Blueprint]:
            return [extra]

    plugins = {"IBlueprint": [HelloPlugin()]}
    monkeypatch.setattr(blueprints, "_implementations", lambda name: plugins.get(name, []))
    seen: list[tuple[str, str, bool]] = []
    with signals.register_blueprint.connected_to(blueprint_recorder(seen)):
        app = make_web_app()
    assert app.test_client().get("/hello").get_data(as_text=True) == "hello"
    assert "hello" not in [name for _, name, _ in seen]  # not a announced type


def test_raising_register_blueprint_subscriber_leaves_the_app_unchanged(
    make_web_app: t.Any,
) -> None:
    before = make_web_app()
    with signals.register_blueprint.connected_to(boom):
        after = make_web_app()
    assert sorted(after.blueprints) == sorted(before.blueprints)
    assert sorted(r.rule for r in after.url_map.iter_rules()) == sorted(
        r.rule for r in before.url_map.iter_rules()
    )
    assert after.test_client().get("/dataset/first").status_code == 200
