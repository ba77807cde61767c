"""Helpers of the web tests: users with API tokens, actions installed beside the core's."""

from __future__ import annotations

import typing as t

import pytest

from heliograph import logic

SITE_URL = "http://portal.test"


def make_token(name: str, sysadmin: bool = False) -> str:
    """A new user ``name`` (a sysadmin if asked) and an API token for them."""
    from heliograph import model
    from heliograph.logic import tokens

    session = model.Session()
    user = model.User(name=name, email=f"{name}@example.org", sysadmin=sysadmin)
    session.add(user)
    session.flush()
    _row, token = tokens.create_token(session, user, f"{name}'s test token")
    session.commit()
    model.Session.remove()
    return t.cast(str, token)


def install_actions(monkeypatch: pytest.MonkeyPatch, extra: dict[str, logic.Action]) -> None:
    from heliograph.logic import action as core_actions

    real_collect = core_actions.collect

    def collect() -> dict[str, logic.Action]:
        try:
            found = real_collect()
        except ImportError:  # the core actions have not landed yet
            found = {}
        found.update(extra)
        return found

    from heliograph.logic import auth as core_auth

    real_auth_collect = core_auth.collect

    def auth_collect() -> dict[str, logic.AuthFunction]:
        try:
            return real_auth_collect()
        except ImportError:
            return {}

    monkeypatch.setattr(core_actions, "collect", collect)
    monkeypatch.setattr(core_auth, "collect", auth_collect)
    logic.registry.reset()
