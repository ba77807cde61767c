"""Real plugins in the web layer: IBlueprint, IDatasetForm, IGroupForm, IActions."""

from __future__ import annotations

import collections.abc as c
import typing as t

import flask
import pytest
from flask import Flask

import heliograph.plugins as p
from heliograph import logic
from heliograph.lib import signals
from heliograph.plugins import interfaces

pytestmark = pytest.mark.usefixtures("stub_pages")

hello = flask.Blueprint("hello", __name__)
hello.add_url_rule("/hello", "hello", lambda: "hello from a plugin")


@logic.side_effect_free
def camera_count(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> int:
    return 7


def camera_count_auth(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"success": True}


class CameraPlugin(p.SingletonPlugin):
    p.implements(interfaces.IBlueprint)
    p.implements(interfaces.IDatasetForm)
    p.implements(interfaces.IGroupForm)
    p.implements(interfaces.IActions)
    p.implements(interfaces.IAuthFunctions)

    is_organization = True

    def get_blueprint(self) -> t.Any:
        return hello

    def package_types(self) -> c.Sequence[str]:
        return ["camera"]

    def group_types(self) -> c.Sequence[str]:
        return ["observatory"]

    def get_actions(self) -> dict[str, t.Any]:
        return {"camera_count": camera_count}

    def get_auth_functions(self) -> dict[str, t.Any]:
        return {"camera_count": camera_count_auth}


@pytest.fixture
def camera_plugin() -> c.Iterator[str]:
    state = p.snapshot()
    p.register("web_test_camera", CameraPlugin)
    yield "web_test_camera"
    p.restore(state)
    logic.registry.reset()


def test_plugin_types_get_announced_blueprints_and_routes(
    make_web_app: t.Any, camera_plugin: str
) -> None:
    seen: list[tuple[str, str, bool]] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        name = kwargs["blueprint"].name
        seen.append((sender, name, name in flask.current_app.blueprints))

    with signals.register_blueprint.connected_to(receiver):
        app: Flask = make_web_app(heliograph__plugins=camera_plugin)
    assert seen == [
        ("dataset", "dataset", False),
        ("resource", "resource", False),
        ("group", "group", False),
        ("organization", "organization", False),
        ("dataset", "camera", False),
        ("resource", "camera_resource", False),
        ("organization", "observatory", False),
    ]
    client = app.test_client()
    assert client.get("/hello").get_data(as_text=True) == "hello from a plugin"
    assert client.get("/camera/camera-one").status_code == 200
    assert client.get("/camera/first").status_code == 404


def test_plugin_actions_are_served_by_the_api(make_web_app: t.Any, camera_plugin: str) -> None:
    app: Flask = make_web_app(heliograph__plugins=camera_plugin)
    response = app.test_client().get("/api/3/action/camera_count")
    assert response.status_code == 200
    assert response.json is not None and response.json["result"] == 7
