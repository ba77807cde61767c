"""Bad input to the core actions over HTTP: the CKAN error envelope, never a 500."""

from __future__ import annotations

import inspect
import json
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import model
from heliograph.lib import signals
from tests.web.api_helpers import make_token

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def token(app: Flask) -> str:
    """A sysadmin's API token, with an organization and a dataset in place."""
    from heliograph import logic

    raw = make_token("admin", sysadmin=True)
    context = {"user": "admin", "session": model.Session}
    org = logic.get_action("organization_create")(dict(context), {"name": "org"})
    logic.get_action("package_create")(
        dict(context), {"name": "taken", "owner_org": org["id"], "resources": [{"url": "x"}]}
    )
    model.Session.remove()
    return t.cast(str, raw)


def post(client: FlaskClient, token: str, action: str, data: t.Any) -> t.Any:
    return client.post(
        f"/api/3/action/{action}",
        data=json.dumps(data),
        content_type="application/json",
        headers={"Authorization": token},
    )


BAD_POSTS: list[tuple[str, t.Any, str | None]] = [
    ("package_create", {}, "name"),
    ("package_create", {"name": 123, "owner_org": "org"}, "name"),
    ("package_create", {"name": "taken", "owner_org": "org"}, "name"),
    ("package_create", {"name": "Bad Name!", "owner_org": "org"}, "name"),
    ("package_create", {"name": "x" * 500, "owner_org": "org"}, "name"),
    ("package_create", {"name": "ok-1", "owner_org": "no-such-org"}, "owner_org"),
    ("package_create", {"name": "ok-2", "owner_org": "org", "tags": "notalist"}, "tags"),
    ("package_create", {"name": "ok-3", "owner_org": "org", "tags": [1, None]}, "tags"),
    ("package_create", {"name": "ok-4", "owner_org": "org", "extras": [1]}, "extras"),
    ("package_create", {"name": "ok-5", "owner_org": "org", "resources": {"a": 1}}, "resources"),
    ("package_create", {"name": "ok-7", "owner_org": ["org"]}, "owner_org"),
    ("package_create", {"name": "nul\u0000", "owner_org": "org"}, "name"),
    ("package_update", {"title": "no id"}, None),
    ("package_patch", {"id": "no-such-dataset"}, None),
    ("package_show", {"id": ["a", "b"]}, None),
    ("package_show", {"id": {"nested": True}}, None),
    ("package_search", {"rows": "abc"}, "rows"),
    ("package_search", {"start": [1, 2]}, "start"),
    ("package_search", {"q": {"x": 1}}, "q"),
    ("resource_create", {"url": "http://x"}, "package_id"),
    ("resource_create", {"package_id": "no-such-dataset", "url": "x"}, None),
    ("resource_update", {"id": "no-such-resource"}, None),
    ("organization_create", {"name": "org"}, "name"),
    ("organization_create", {"name": ""}, "name"),
    ("group_create", {"name": None}, "name"),
    ("member_create", {"id": "org", "object": "admin", "object_type": "user"}, "capacity"),
    ("member_create", {"id": "org", "object": "x", "object_type": "sofa", "capacity": "x"}, None),
    ("user_create", {"name": "u1"}, "email"),
    ("user_create", {"name": "u2", "email": "not-an-email", "password": "long-enough-1"}, None),
    ("api_token_create", {"user": "nobody", "name": "t"}, None),
    ("user_show", {"id": 42}, None),
]


@pytest.mark.parametrize(("action", "data", "field"), BAD_POSTS)
def test_bad_input_gets_the_error_envelope_never_a_500(
    client: FlaskClient, token: str, action: str, data: t.Any, field: str | None
) -> None:
    response = post(client, token, action, data)
    assert response.status_code in (400, 403, 404, 409), response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    envelope = response.json
    assert envelope is not None and envelope["success"] is False
    assert envelope["error"]["__type"] in (
        "Validation Error",
        "Not Found Error",
        "Authorization Error",
        "Search Query Error",
    )
    if field is not None:
        assert envelope["error"]["__type"] in ("Validation Error", "Search Query Error")
        assert field in envelope["error"] or field in envelope["error"].get("message", "")


@pytest.mark.parametrize(
    "query",
    ["rows=abc", "rows=-5", "start=x", "rows=10&rows=20", "q=%00", "sort=nonsense+sideways"],
)
def test_bad_search_parameters_over_get_never_500(client: FlaskClient, query: str) -> None:
    response = client.get(f"/api/3/action/package_search?{query}")
    assert response.status_code in (200, 400, 409), response.get_data(as_text=True)
    assert response.json is not None


def test_action_succeeded_fires_once_over_http_and_not_on_failure(
    client: FlaskClient, token: str
) -> None:
    calls: list[tuple[str, dict[str, t.Any]]] = []

    def receiver(sender: t.Any, **kwargs: t.Any) -> None:
        calls.append((sender, kwargs))

    with signals.action_succeeded.connected_to(receiver):
        ok = client.get("/api/3/action/package_show?id=taken")
        assert ok.status_code == 200
        assert [sender for sender, _ in calls] == ["package_show"]
        assert calls[0][1]["result"]["name"] == "taken"
        assert calls[0][1]["context"]["api_version"] == 3
        calls.clear()
        failed = post(client, token, "package_create", {"name": "taken", "owner_org": "org"})
        assert failed.status_code == 409
        assert calls == []


@pytest.mark.parametrize("action", ["user_list", "group_list", "organization_list"])
def test_an_empty_limit_means_no_limit_not_a_500(
    client: FlaskClient, token: str, action: str
) -> None:
    assert post(client, token, "group_create", {"name": "grp"}).status_code == 200
    over_get = client.get(f"/api/3/action/{action}?limit=&offset=")
    assert over_get.status_code == 200, over_get.get_json()
    over_post = post(client, token, action, {"limit": "", "offset": ""})
    assert over_post.status_code == 200, over_post.get_json()

    def names(result: list[t.Any]) -> list[str]:
        return [r["name"] if isinstance(r, dict) else r for r in result]

    assert names(over_post.get_json()["result"]) == names(over_get.get_json()["result"])
    assert names(over_get.get_json()["result"])  # something was listed


def test_the_help_link_of_every_response_answers_with_the_actions_documentation(
    client: FlaskClient,
) -> None:
    body = client.get("/api/3/action/package_list").get_json()
    path = body["help"].split("://", 1)[1].split("/", 1)[1]
    shown = client.get("/" + path)
    assert shown.status_code == 200
    from heliograph.logic.action.get import package_list

    assert shown.get_json()["result"] == inspect.getdoc(package_list)
    missing = client.get("/api/3/action/help_show?name=no_such_action").get_json()
    assert missing["error"]["__type"] == "Not Found Error"
    assert "no_such_action" in missing["error"]["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_numbers_are_bad_json_not_stored_as_text(
    client: FlaskClient, token: str, constant: str
) -> None:
    response = client.post(
        "/api/3/action/package_create",
        data='{"name": "nan-dataset", "owner_org": "org", "title": ' + constant + "}",
        headers={"Authorization": token, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "Error decoding JSON data" in response.get_json()
    assert client.get("/api/3/action/package_show?id=nan-dataset").status_code in (403, 404)
