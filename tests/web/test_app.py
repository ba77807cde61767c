"""The application factory: configuration, database, settings, plugins."""

from __future__ import annotations

import collections.abc as c
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

import heliograph.plugins as plugins
from heliograph import config as config_module
from heliograph import logic, model
from heliograph.config import ConfigError
from heliograph.model import migrate
from heliograph.plugins import toolkit
from heliograph.web import make_app


@pytest.fixture
def clean_plugins() -> c.Iterator[None]:
    state = plugins.snapshot()
    yield
    plugins.restore(state)
    logic.registry.reset()


def test_config_values_reach_flask_and_the_layers_below(make_web_app: t.Any) -> None:
    app: Flask = make_web_app(heliograph__max_request_size_mb="3", heliograph__secret_key="s3cr3t")
    assert app.config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024
    assert app.config["SECRET_KEY"] == "s3cr3t"
    assert logic.config["heliograph.site_url"] == "http://portal.test"
    assert toolkit.config["heliograph.max_request_size_mb"] == 3


def test_a_config_object_is_used_as_given(tmp_path: Path) -> None:
    config = config_module.load(
        overrides={"heliograph.instance_path": str(tmp_path), "heliograph.plugins": ""},
        environ={},
    )
    app = make_app(config)
    assert app.config["SECRET_KEY"] == config["heliograph.secret_key"]
    assert config_module.config == config


def test_first_start_creates_the_sqlite_database(tmp_path: Path) -> None:
    app = make_app({"heliograph.instance_path": str(tmp_path), "heliograph.plugins": ""})
    database = tmp_path / "heliograph.db"
    assert database.is_file()
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        assert migrate.is_current(engine)
    finally:
        engine.dispose()
    assert app.test_client().get("/api/3").status_code == 200


def test_malformed_key_is_a_startup_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"heliograph\.max_request_size_mb"):
        make_app(
            {"heliograph.instance_path": str(tmp_path), "heliograph.max_request_size_mb": "big"}
        )


def test_unreachable_database_is_a_startup_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sqlalchemy\.url"):
        make_app(
            {
                "heliograph.instance_path": str(tmp_path),
                "sqlalchemy.url": f"sqlite:///{tmp_path}/no/such/folder/x.db",
            }
        )


def test_session_is_removed_after_each_request(app: Flask) -> None:
    seen: list[t.Any] = []

    @app.get("/__probe")
    def probe() -> str:
        seen.append(model.Session())
        return "ok"

    client = app.test_client()
    client.get("/__probe")
    client.get("/__probe")
    assert seen[0] is not seen[1]


def test_plugins_named_in_the_config_are_loaded_once(
    make_web_app: t.Any, clean_plugins: None
) -> None:
    make_web_app(heliograph__plugins="example_isignal")
    assert plugins.plugin_loaded("example_isignal")
    make_web_app(heliograph__plugins="example_isignal")  # building again loads nothing twice
    assert plugins.loaded_plugins().count("example_isignal") == 1


def test_unknown_plugin_is_a_startup_error_naming_the_key(
    make_web_app: t.Any, clean_plugins: None
) -> None:
    with pytest.raises(ConfigError, match=r"heliograph\.plugins"):
        make_web_app(heliograph__plugins="no_such_plugin")
