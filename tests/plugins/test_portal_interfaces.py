"""IActions and IAuthFunctions: plugin actions join the registry while loaded."""

from __future__ import annotations

import typing as t

import pytest
import sqlalchemy as sa

import heliograph.plugins as p
from heliograph.plugins import toolkit as tk


@tk.side_effect_free
def echo_show(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> dict[str, t.Any]:
    tk.check_access("echo_show", context, data_dict)
    if "value" not in data_dict:
        raise tk.ValidationError({"value": ["Missing value"]})
    return {"echo": data_dict["value"]}


def echo_show_auth(context: dict[str, t.Any], data_dict: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"success": data_dict.get("value") != "forbidden", "msg": "not that one"}


echo_show_auth = tk.auth_allow_anonymous_access(echo_show_auth)


class EchoPlugin(p.SingletonPlugin):
    p.implements(p.interfaces.IActions)
    p.implements(p.interfaces.IAuthFunctions)

    def get_actions(self) -> dict[str, t.Any]:
        return {"echo_show": echo_show}

    def get_auth_functions(self) -> dict[str, t.Any]:
        return {"echo_show": echo_show_auth}


def test_a_loaded_plugins_action_runs_through_get_action_and_sends_action_succeeded(
    db: sa.Engine, with_plugins: t.Any, signal_recorder: t.Any
) -> None:
    with_plugins.register("echo", EchoPlugin)
    with_plugins("echo")
    signal_recorder.record(tk.signals.action_succeeded)
    assert tk.get_action("echo_show")({}, {"value": 7}) == {"echo": 7}
    signal_recorder.assert_sent(
        tk.signals.action_succeeded, sender="echo_show", times=1, result={"echo": 7}
    )


def test_a_plugins_auth_function_guards_its_action(db: sa.Engine, with_plugins: t.Any) -> None:
    with_plugins.register("echo", EchoPlugin)
    with_plugins("echo")
    with pytest.raises(tk.NotAuthorized, match="not that one"):
        tk.get_action("echo_show")({}, {"value": "forbidden"})
    with pytest.raises(tk.ValidationError) as caught:
        tk.get_action("echo_show")({}, {})
    assert caught.value.error_dict == {"value": ["Missing value"]}


def test_unloading_the_plugin_removes_its_action(db: sa.Engine) -> None:
    from heliograph.logic import UnknownAction

    p.register("echo_unload", EchoPlugin)
    try:
        with p.use_plugin("echo_unload"):
            assert tk.get_action("echo_show")({}, {"value": 1}) == {"echo": 1}
        with pytest.raises(UnknownAction, match="Action name not known: echo_show"):
            tk.get_action("echo_show")
    finally:
        p.unregister("echo_unload")
