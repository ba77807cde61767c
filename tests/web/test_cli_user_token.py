"""``heliograph user token add``: an API token made on the command line,
printed once, that works against the API; only its hash is stored."""

from __future__ import annotations

import typing as t
from pathlib import Path

from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from heliograph import model
from heliograph.cli import main
from heliograph.config import config as heliograph_config
from tests.web.accounts_helpers import make_user


def env_for(app: Flask, tmp_path: Path) -> dict[str, str]:
    return {
        "HELIOGRAPH_SQLALCHEMY_URL": heliograph_config["sqlalchemy.url"],
        "HELIOGRAPH_INSTANCE_PATH": str(tmp_path),
        "HELIOGRAPH_PLUGINS": "",
        "HELIOGRAPH_CONFIG": "",
    }


def token_names(user: str = "alice") -> list[str]:
    model.Session.remove()
    row = model.Session.query(model.User).filter_by(name=user).one()
    return sorted(token.name for token in row.tokens)


def whoami(client: FlaskClient, token: str) -> t.Any:
    return client.post(
        "/api/3/action/api_token_list",
        json={"user_id": "alice"},
        headers={"Authorization": token},
    )


def test_user_token_add_prints_a_working_token_once(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    make_user("alice")
    result = CliRunner().invoke(
        main, ["user", "token", "add", "alice", "--name", "backup"], env=env_for(app, tmp_path)
    )
    assert result.exit_code == 0, result.output
    [token] = result.stdout.split()
    assert "shown only now" in result.stderr
    assert result.output.count(token) == 1
    assert token_names() == ["backup"]
    listed = whoami(client, token)
    assert listed.status_code == 200
    assert [row["name"] for row in listed.get_json()["result"]] == ["backup"]
    # Only a hash is kept.
    model.Session.remove()
    assert all(token not in str(row.id) for row in model.Session.query(model.ApiToken))


def test_user_token_add_takes_ckans_positional_name_and_has_a_default(
    app: Flask, tmp_path: Path
) -> None:
    make_user("alice")
    runner, env = CliRunner(), env_for(app, tmp_path)
    assert runner.invoke(main, ["user", "token", "add", "alice", "laptop"], env=env).exit_code == 0
    assert runner.invoke(main, ["user", "token", "add", "alice"], env=env).exit_code == 0
    assert token_names() == ["cli", "laptop"]
    both = runner.invoke(main, ["user", "token", "add", "alice", "a", "--name", "b"], env=env)
    assert both.exit_code == 2 and "two token names" in both.output


def test_user_token_add_for_an_unknown_user_says_so_and_makes_nothing(
    app: Flask, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        main, ["user", "token", "add", "nobody"], env=env_for(app, tmp_path)
    )
    assert result.exit_code == 1
    assert "User not found" in result.output
    assert result.stdout == ""
    model.Session.remove()
    assert model.Session.query(model.ApiToken).count() == 0
