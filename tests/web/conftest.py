"""Fixtures for the web layer: an app on the test database, a client, stub actions."""

from __future__ import annotations

import collections.abc as c
import datetime as dt
import threading
import typing as t

import pytest
import sqlalchemy as sa
import waitress
from flask import Flask
from flask.testing import FlaskClient
from waitress import wasyncore
from werkzeug.datastructures import FileStorage

from heliograph import logic
from heliograph.logic import NotAuthorized, ObjectNotFound, ValidationError, side_effect_free
from tests.web.api_helpers import SITE_URL, install_actions


@pytest.fixture
def make_web_app(db: sa.Engine, tmp_path_factory: pytest.TempPathFactory) -> c.Callable[..., Flask]:
    """Build the portal on the test database; keyword arguments are config overrides."""
    from heliograph.web import make_app

    instance = tmp_path_factory.mktemp("instance")

    def build(**overrides: str) -> Flask:
        config = {
            "sqlalchemy.url": db.url.render_as_string(hide_password=False),
            "heliograph.instance_path": str(instance),
            "heliograph.plugins": "",
            "heliograph.site_url": SITE_URL,
        }
        config.update({key.replace("__", "."): value for key, value in overrides.items()})
        return make_app(config)

    return build


@pytest.fixture
def app(make_web_app: c.Callable[..., Flask]) -> Flask:
    return make_web_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- stub actions: the API's behaviour without depending on the core actions ---------


def _describe(value: t.Any) -> t.Any:
    if isinstance(value, FileStorage):
        return {"filename": value.filename, "content": value.read().decode("utf-8")}
    if isinstance(value, list):
        return [_describe(v) for v in value]
    return value


@side_effect_free
def hg_test_echo(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "data": {key: _describe(value) for key, value in data_dict.items()},
        "user": context.get("user"),
        "api_version": context.get("api_version"),
        "has_session": context.get("session") is not None,
    }


def hg_test_write(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"written": data_dict}


@side_effect_free
def hg_test_invalid(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> t.NoReturn:
    raise ValidationError({"name": ["Missing value"], "url": ["Must be a URL"]})


@side_effect_free
def hg_test_invalid_text(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> t.NoReturn:
    raise ValidationError("Organization cannot be deleted while it still has datasets")


@side_effect_free
def hg_test_denied(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> t.NoReturn:
    raise NotAuthorized(data_dict.get("why", ""))


@side_effect_free
def hg_test_missing(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> t.NoReturn:
    raise ObjectNotFound(data_dict.get("what", ""))


@side_effect_free
def hg_test_boom(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> t.NoReturn:
    raise RuntimeError("secret internal detail")


@side_effect_free
def hg_test_unserializable(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> t.Any:
    return {"thing": object()}


@side_effect_free
def hg_test_when(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> t.Any:
    return {"when": dt.datetime(2024, 5, 1, 12, 0, 0, 123456), "day": dt.date(2024, 5, 1)}


STUB_PACKAGES: dict[str, dict[str, t.Any]] = {
    "first": {
        "id": "id-first",
        "name": "first",
        "title": "First <script>alert(1)</script> dataset",
        "type": "dataset",
        "notes": "Counts of things",
        "private": False,
        "tags": [{"name": "things", "display_name": "things"}],
        "extras": [{"key": "source", "value": "survey"}],
        "resources": [{"id": "res-1", "name": "The CSV", "url": "http://x.test/a.csv"}],
    },
    "camera-one": {
        "id": "id-camera",
        "name": "camera-one",
        "title": "A camera",
        "type": "camera",
        "resources": [],
    },
}


@side_effect_free
def package_show(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> dict[str, t.Any]:
    name = data_dict.get("id")
    if name == "secret":
        raise NotAuthorized("User not authorized to read package secret")
    if name not in STUB_PACKAGES:
        raise ObjectNotFound("Dataset")
    return STUB_PACKAGES[name]


@side_effect_free
def package_search(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> dict[str, t.Any]:
    q = str(data_dict.get("q") or "").lower()
    results = [p for p in STUB_PACKAGES.values() if q in p["title"].lower()]
    return {"count": len(results), "results": results, "facets": {}, "search_facets": {}}


STUBS: dict[str, logic.Action] = {
    fn.__name__: fn
    for fn in (
        hg_test_echo,
        hg_test_write,
        hg_test_invalid,
        hg_test_invalid_text,
        hg_test_denied,
        hg_test_missing,
        hg_test_boom,
        hg_test_unserializable,
        hg_test_when,
    )
}
PAGE_STUBS: dict[str, logic.Action] = {
    "package_show": package_show,
    "package_search": package_search,
}


@pytest.fixture
def stub_actions(monkeypatch: pytest.MonkeyPatch) -> c.Iterator[dict[str, logic.Action]]:
    """The ``hg_test_*`` actions, registered beside the core ones."""
    install_actions(monkeypatch, STUBS)
    yield STUBS
    monkeypatch.undo()
    logic.registry.reset()


@pytest.fixture
def stub_pages(monkeypatch: pytest.MonkeyPatch) -> c.Iterator[None]:
    """``package_show`` and ``package_search`` replaced by stubs over STUB_PACKAGES."""
    install_actions(monkeypatch, {**STUBS, **PAGE_STUBS})
    yield
    monkeypatch.undo()
    logic.registry.reset()


@pytest.fixture
def live_app(make_web_app: c.Callable[..., Flask], core_actions: None) -> Flask:
    """The portal served on a loopback port by :func:`server_url`."""
    return make_web_app()


@pytest.fixture
def server_url(live_app: Flask) -> c.Iterator[str]:
    """``live_app`` served by waitress on a free loopback port, in a thread."""
    server = waitress.create_server(live_app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="live-portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # close() alone leaves keep-alive channels in the map and run() looping
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)
        thread.join(timeout=10)
        assert not thread.is_alive()
