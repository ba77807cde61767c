"""The webhook actions: who may touch a hook, what is shown, bad input named."""

from __future__ import annotations

import base64
import collections.abc as c
import typing as t

import pytest
import sqlalchemy as sa

import heliograph.plugins.toolkit as tk
from heliograph import logic
from tests.ext.webhooks.webhook_helpers import Receiver

Call = c.Callable[..., t.Any]


def make(call: Call, receiver: Receiver, user: str = "editor", **extra: t.Any) -> t.Any:
    return call(
        "webhook_create",
        {"url": receiver.url(), "topics": ["dataset/*"], **extra},
        user=user,
    )


def test_create_shows_the_secret_once_and_show_never(
    call: Call, people: t.Any, receiver: Receiver
) -> None:
    created = make(call, receiver, description="CI trigger")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert created["owner"] == "editor"
    assert created["topics"] == ["dataset/*"]
    assert created["enabled"] is True
    assert created["description"] == "CI trigger"
    shown = call("webhook_show", {"id": created["id"]}, user="editor")
    assert "secret" not in shown
    assert secret not in repr(shown)
    listed = call("webhook_list", {}, user="editor")
    assert [h["id"] for h in listed] == [created["id"]]
    assert secret not in repr(listed)


def test_only_the_owner_or_a_sysadmin_touches_a_hook(
    call: Call, people: t.Any, receiver: Receiver
) -> None:
    hook = make(call, receiver)
    mine = make(call, receiver, user="outsider")
    for action, extra in [
        ("webhook_show", {}),
        ("webhook_update", {"description": "x"}),
        ("webhook_delete", {}),
        ("webhook_test", {}),
        ("webhook_delivery_list", {}),
        ("webhook_redeliver", {"message_id": "msg_x"}),
    ]:
        with pytest.raises(tk.NotAuthorized):
            call(action, {"id": hook["id"], **extra}, user="outsider")
        with pytest.raises(tk.NotAuthorized):
            call(action, {"id": hook["id"], **extra}, user=None)
    assert [h["id"] for h in call("webhook_list", {}, user="outsider")] == [mine["id"]]
    everyone = {h["id"] for h in call("webhook_list", {}, user="sysadmin")}
    assert everyone == {hook["id"], mine["id"]}
    assert call("webhook_show", {"id": hook["id"]}, user="sysadmin")["owner"] == "editor"
    call("webhook_update", {"id": hook["id"], "description": "by admin"}, user="sysadmin")
    assert call("webhook_show", {"id": hook["id"]}, user="editor")["description"] == "by admin"
    with pytest.raises(tk.NotAuthorized):
        call("webhook_create", {"url": receiver.url(), "topics": ["*"]}, user=None)
    with pytest.raises(tk.NotAuthorized):
        call("webhook_list", {}, user=None)
    call("webhook_delete", {"id": hook["id"]}, user="editor")
    with pytest.raises(tk.ObjectNotFound):
        call("webhook_show", {"id": hook["id"]}, user="editor")


@pytest.mark.parametrize(
    ("data", "field", "text"),
    [
        ({"topics": ["*"]}, "url", "Missing value"),
        ({"url": "ftp://example.org/x", "topics": ["*"]}, "url", "Must start with"),
        ({"url": "https://u:p@example.org/x", "topics": ["*"]}, "url", "user name or password"),
        ({"url": "https://169.254.169.254/latest", "topics": ["*"]}, "url", "not allowed"),
        ({"url": "https://10.0.0.5/x", "topics": ["*"]}, "url", "not allowed"),
        ({"url": "https://example.org/x"}, "topics", "non-empty list"),
        ({"url": "https://example.org/x", "topics": ["dataset/explode"]}, "topics", "Unknown"),
        ({"url": "https://example.org/x", "topics": "*", "secret": "abc"}, "secret", "whsec_"),
        (
            {"url": "https://example.org/x", "topics": "*", "secret": "whsec_" + "QUJD"},
            "secret",
            "24 to 64 bytes",
        ),
        ({"url": "https://example.org/x", "topics": "*", "dataset": "nope"}, "dataset", "No"),
        ({"url": "https://example.org/x", "topics": "*", "enabled": "maybe"}, "enabled", "true"),
        ({"url": "https://example.org/x", "topics": "*", "description": 5}, "description", "str"),
    ],
)
def test_bad_input_is_a_validation_error_naming_the_field(
    call: Call, people: t.Any, data: dict[str, t.Any], field: str, text: str
) -> None:
    with pytest.raises(tk.ValidationError) as caught:
        call("webhook_create", data, user="editor")
    assert field in caught.value.error_dict
    assert text in str(caught.value.error_dict[field])


def test_http_is_refused_unless_the_site_allows_it(
    call: Call, people: t.Any, receiver: Receiver, webhook_config: dict[str, t.Any]
) -> None:
    webhook_config["heliograph.webhooks.allow_http"] = "false"
    with pytest.raises(tk.ValidationError) as caught:
        make(call, receiver)
    assert "https://" in str(caught.value.error_dict["url"])


def test_a_private_dataset_filter_needs_a_caller_who_sees_it(
    call: Call, private_dataset: dict[str, t.Any], receiver: Receiver
) -> None:
    with pytest.raises(tk.ValidationError) as caught:
        make(call, receiver, user="outsider", dataset="flares")
    assert "dataset" in caught.value.error_dict
    hook = make(call, receiver, user="member", dataset="flares")
    assert hook["dataset"] == private_dataset["id"]


def test_a_custom_secret_and_rotation_shown_once(
    call: Call, people: t.Any, receiver: Receiver
) -> None:
    mine = "whsec_" + base64.b64encode(b"k" * 24).decode()
    hook = make(call, receiver, secret=mine)
    assert hook["secret"] == mine
    rotated = call("webhook_update", {"id": hook["id"], "rotate_secret": True}, user="editor")
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != mine
    assert rotated["rotating"] is True
    plain = call("webhook_update", {"id": hook["id"], "description": "d"}, user="editor")
    assert "secret" not in plain


def test_the_api_answers_bad_input_with_ckans_409_envelope(
    db: sa.Engine, people: t.Any, tmp_path: t.Any, receiver: Receiver
) -> None:
    from heliograph.logic import tokens
    from heliograph.web import make_app

    app = make_app(
        {
            "sqlalchemy.url": db.url.render_as_string(hide_password=False),
            "heliograph.instance_path": str(tmp_path),
            "heliograph.plugins": "webhooks",
            "heliograph.webhooks.allow_http": "true",
            "heliograph.webhooks.allowed_networks": "127.0.0.1/32",
        }
    )
    logic.registry.reset()
    from heliograph import model

    token = tokens.create_token(model.Session(), people["editor"], "t")[1]
    model.Session.commit()
    client = app.test_client()
    answer = client.post(
        "/api/3/action/webhook_create",
        json={"url": "gopher://x", "topics": ["*"]},
        headers={"Authorization": token},
    )
    assert answer.status_code == 409
    body = answer.get_json()
    assert body["success"] is False
    assert body["error"]["__type"] == "Validation Error"
    assert "url" in body["error"]
    answer = client.post(
        "/api/3/action/webhook_create",
        json={"url": receiver.url(), "topics": ["dataset/create"]},
        headers={"Authorization": token},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    hook_id = answer.get_json()["result"]["id"]
    shown = client.get(f"/api/3/action/webhook_show?id={hook_id}", headers={"Authorization": token})
    assert shown.status_code == 200
    assert client.get(f"/api/3/action/webhook_show?id={hook_id}").status_code == 403
