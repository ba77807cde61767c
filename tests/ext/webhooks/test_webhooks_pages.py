"""The webhooks page of the profile, with and without the activity plugin
(which overrides the profile's template), on SQLite and PostgreSQL."""

from __future__ import annotations

import collections.abc as c
import html
import re
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from heliograph import logic, model
from heliograph.config import config as heliograph_config
from heliograph.ext.activity import tables as activity_tables
from heliograph.model.migrate import upgrade_plugins
from tests.ext.webhooks.webhook_helpers import Receiver

Call = c.Callable[..., t.Any]


@pytest.fixture(params=["webhooks", "activity webhooks", "webhooks activity"])
def app(
    request: pytest.FixtureRequest, webhook_tables: sa.Engine, tmp_path: Path
) -> c.Iterator[Flask]:
    from heliograph.web import make_app

    plugins = request.param
    if "activity" in plugins:
        upgrade_plugins(webhook_tables, ["activity"])
    built = make_app(
        {
            "sqlalchemy.url": webhook_tables.url.render_as_string(hide_password=False),
            "heliograph.instance_path": str(tmp_path),
            "heliograph.plugins": plugins,
            "heliograph.webhooks.allow_http": "true",
            "heliograph.webhooks.allowed_networks": "127.0.0.1/32",
        }
    )
    logic.registry.reset()
    yield built
    model.Session.remove()
    if "activity" in plugins:
        with webhook_tables.begin() as conn:
            for table in reversed(activity_tables.metadata.sorted_tables):
                conn.execute(table.delete())


def client_as(app: Flask, user: model.User | None) -> FlaskClient:
    from heliograph.web import accounts

    client = app.test_client()
    if user is not None:
        with app.app_context():
            ref = accounts.open_session(model.Session(), user)
            model.Session.commit()
        with client.session_transaction() as session:
            session["_user_id"] = ref
            session["_fresh"] = True
    return client


def text(response: t.Any) -> str:
    body = response.get_data(as_text=True)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def csrf(response: t.Any) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True))
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_the_profile_links_to_the_page_for_its_owner_only(
    app: Flask, people: dict[str, model.User]
) -> None:
    mine = client_as(app, people["editor"]).get("/user/editor")
    assert mine.status_code == 200
    assert 'href="/user/editor/webhooks"' in mine.get_data(as_text=True)
    if "activity" in str(heliograph_config["heliograph.plugins"]):
        assert "Activity stream" in text(mine)  # the activity plugin's profile still
    other = client_as(app, people["outsider"]).get("/user/editor")
    assert other.status_code == 200
    assert "/user/editor/webhooks" not in other.get_data(as_text=True)
    admin = client_as(app, people["sysadmin"]).get("/user/editor")
    assert 'href="/user/editor/webhooks"' in admin.get_data(as_text=True)
    assert "/webhooks" not in client_as(app, None).get("/user/editor").get_data(as_text=True)


def test_owner_creates_tests_and_deletes_a_hook_on_the_page(
    app: Flask, people: dict[str, model.User], receiver: Receiver
) -> None:
    client = client_as(app, people["editor"])
    page = client.get("/user/editor/webhooks")
    assert page.status_code == 200
    assert "No webhooks." in text(page)
    made = client.post(
        "/user/editor/webhooks",
        data={
            "csrf_token": csrf(page),
            "url": receiver.url(),
            "topics": ["dataset/create", "dataset/update"],
            "description": "my receiver",
        },
    )
    assert made.status_code == 200, text(made)
    assert made.headers["Cache-Control"] == "no-store"
    secret = re.search(r'class="new-secret">(whsec_[^<]+)<', made.get_data(as_text=True))
    assert secret is not None
    assert receiver.url() in text(made)
    again = client.get("/user/editor/webhooks")
    assert secret.group(1) not in again.get_data(as_text=True)  # shown once
    hook_id = re.search(r'id="hook-([0-9a-f-]{36})"', again.get_data(as_text=True))
    assert hook_id is not None
    tested = client.post(
        f"/user/editor/webhooks/{hook_id.group(1)}/test", data={"csrf_token": csrf(again)}
    )
    assert tested.status_code == 200
    assert "answered 200" in text(tested)
    (ping,) = receiver.at()
    assert ping.verify(secret.group(1))["type"] == "webhook/test"
    log = client.get(f"/user/editor/webhooks/{hook_id.group(1)}")
    assert log.status_code == 200
    assert "webhook/test" in text(log) and ping.headers["webhook-id"] in text(log)
    off = client.post(
        f"/user/editor/webhooks/{hook_id.group(1)}/disable", data={"csrf_token": csrf(log)}
    )
    assert off.status_code == 302
    listed = client.get("/user/editor/webhooks")
    assert "off" in text(listed)
    gone = client.post(
        f"/user/editor/webhooks/{hook_id.group(1)}/delete", data={"csrf_token": csrf(listed)}
    )
    assert gone.status_code == 302
    assert "No webhooks." in text(client.get("/user/editor/webhooks"))


def test_bad_input_is_shown_on_the_page_naming_the_field(
    app: Flask, people: dict[str, model.User]
) -> None:
    client = client_as(app, people["editor"])
    page = client.get("/user/editor/webhooks")
    answer = client.post(
        "/user/editor/webhooks",
        data={"csrf_token": csrf(page), "url": "ftp://example.org/x", "topics": ["*"]},
    )
    assert answer.status_code == 400
    assert "url: Must start with" in text(answer)
    answer = client.post(
        "/user/editor/webhooks",
        data={"csrf_token": csrf(page), "url": "https://example.org/x"},
    )
    assert answer.status_code == 400
    assert "topics:" in text(answer)


def test_the_page_refuses_others_and_forms_without_csrf(
    app: Flask, people: dict[str, model.User], receiver: Receiver
) -> None:
    assert client_as(app, None).get("/user/editor/webhooks").status_code == 403
    assert client_as(app, people["outsider"]).get("/user/editor/webhooks").status_code == 403
    assert client_as(app, people["sysadmin"]).get("/user/editor/webhooks").status_code == 200
    client = client_as(app, people["editor"])
    refused = client.post("/user/editor/webhooks", data={"url": receiver.url(), "topics": ["*"]})
    assert refused.status_code == 400
    assert "No webhooks." in text(client.get("/user/editor/webhooks"))
