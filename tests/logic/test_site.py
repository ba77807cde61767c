"""site_read, status_show and the settings the actions read."""

from __future__ import annotations

import typing as t

import pytest

from heliograph import config as config_module
from heliograph import logic
from heliograph.plugins import toolkit

Call = t.Callable[..., t.Any]


def test_site_read(call: Call, db: t.Any) -> None:
    assert call("site_read") is True


def test_status_show(call: Call, db: t.Any, setting: t.Any) -> None:
    setting("heliograph.plugins", ["activity", "datastore"])
    setting("heliograph.site_url", "http://portal.test")
    status = call("status_show")
    assert set(status) == {
        "site_title", "site_description", "site_url", "error_emails_to", "locale_default",
        "extensions", "ckan_version",
    }  # fmt: skip
    assert status["extensions"] == ["activity", "datastore"]
    assert status["site_url"] == "http://portal.test" and status["locale_default"] == "en"


def test_hide_version_hides_it_from_all_but_sysadmins(
    call: Call, people: t.Any, setting: t.Any
) -> None:
    setting("heliograph.hide_version", "true")
    assert "ckan_version" not in call("status_show")
    assert "ckan_version" not in call("status_show", user="admin")
    assert "ckan_version" in call("status_show", user="sysadmin")


def test_settings_fall_back_to_declared_defaults() -> None:
    config = config_module.Config()
    assert config["heliograph.search.rows_max"] == 1000
    assert config.get("heliograph.auth.create_unowned_dataset") is False
    assert config.get("undeclared.key", "fallback") == "fallback"
    with pytest.raises(KeyError):
        config["undeclared.key"]
    config.replace(
        {"heliograph.auth.public_user_details": "false", "heliograph.search.rows_max": "5"}
    )
    assert config.auth("public_user_details") is False
    assert config.as_int("heliograph.search.rows_max") == 5
    assert logic.config is config_module.config is toolkit.config


def test_unknown_actions_are_named() -> None:
    with pytest.raises(logic.UnknownAction, match="Action name not known: no_such_action"):
        logic.get_action("no_such_action")
