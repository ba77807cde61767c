"""The action API over Flask's test client: envelope, request data, errors."""

from __future__ import annotations

import io
import json
import logging
import typing as t

import pytest
from flask.testing import FlaskClient

from heliograph import model
from heliograph.web import identity

SITE_URL = "http://portal.test"  # as in conftest.py

pytestmark = pytest.mark.usefixtures("stub_actions")

JSON_TYPE = "application/json;charset=utf-8"


def body(response: t.Any) -> t.Any:
    assert response.headers["Content-Type"] == JSON_TYPE
    return json.loads(response.get_data(as_text=True))


# -- the root and the envelope ---------------------------------------------------


@pytest.mark.parametrize(("path", "version"), [("/api", 1), ("/api/1", 1), ("/api/3", 3)])
def test_api_root_answers_its_version(client: FlaskClient, path: str, version: int) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert body(response) == {"version": version}


def test_success_envelope_has_help_success_and_result(client: FlaskClient) -> None:
    response = client.get("/api/3/action/hg_test_echo?a=1")
    assert response.status_code == 200
    assert body(response) == {
        "help": f"{SITE_URL}/api/3/action/help_show?name=hg_test_echo",
        "success": True,
        "result": {"data": {"a": "1"}, "user": None, "api_version": 3, "has_session": True},
    }


def test_unversioned_route_runs_the_same_action(client: FlaskClient) -> None:
    response = client.post("/api/action/hg_test_echo", json={"a": 1})
    assert response.status_code == 200
    assert body(response)["result"]["data"] == {"a": 1}


def test_other_api_versions_of_the_action_route_are_not_found(client: FlaskClient) -> None:
    response = client.get("/api/2/action/hg_test_echo")
    assert response.status_code == 404
    assert body(response)["error"]["__type"] == "Not Found Error"


def test_result_with_dates_is_written_as_iso_strings(client: FlaskClient) -> None:
    result = body(client.get("/api/3/action/hg_test_when"))["result"]
    assert result == {"when": "2024-05-01T12:00:00.123456", "day": "2024-05-01"}


# -- request data -----------------------------------------------------------------


def test_get_parameters_come_from_the_query_string_and_repeat_into_lists(
    client: FlaskClient,
) -> None:
    response = client.get("/api/3/action/hg_test_echo?q=x&fq=a&fq=b")
    assert body(response)["result"]["data"] == {"q": "x", "fq": ["a", "b"]}


def test_get_without_query_string_still_reads_a_json_body(client: FlaskClient) -> None:
    response = client.get("/api/3/action/hg_test_echo", json={"id": "x"})
    assert body(response)["result"]["data"] == {"id": "x"}


def test_post_json_object_is_the_data_dict(client: FlaskClient) -> None:
    payload = {"name": "n", "tags": [{"name": "t"}], "private": True, "n": 3}
    response = client.post("/api/3/action/hg_test_write", json=payload)
    assert response.status_code == 200
    assert body(response)["result"] == {"written": payload}


def test_post_form_single_field_legacy_json_trick(client: FlaskClient) -> None:
    # what `curl -d '{"a": 1}'` sends: the whole JSON text as one field name
    response = client.post(
        "/api/3/action/hg_test_write",
        data='{"a": 1, "b": [1, 2]}',
        content_type="application/x-www-form-urlencoded",
    )
    assert body(response)["result"] == {"written": {"a": 1, "b": [1, 2]}}


def test_post_form_fields_become_strings_and_repeated_keys_lists(client: FlaskClient) -> None:
    response = client.post(
        "/api/3/action/hg_test_write",
        data="name=n&private=true&tag=a&tag=b",
        content_type="application/x-www-form-urlencoded",
    )
    assert body(response)["result"] == {
        "written": {"name": "n", "private": "true", "tag": ["a", "b"]}
    }


def test_multipart_files_are_added_under_their_field_name(client: FlaskClient) -> None:
    response = client.post(
        "/api/3/action/hg_test_echo",
        data={"package_id": "p", "size": "10", "upload": (io.BytesIO(b"a,b\n1,2\n"), "data.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert body(response)["result"]["data"] == {
        "package_id": "p",
        "size": "10",
        "upload": {"filename": "data.csv", "content": "a,b\n1,2\n"},
    }


def test_post_on_a_side_effect_free_action_is_allowed(client: FlaskClient) -> None:
    response = client.post("/api/3/action/hg_test_echo", json={})
    assert response.status_code == 200
    assert body(response)["success"] is True


# -- requests refused before the action runs ------------------------------------------


def test_get_on_a_post_only_action_is_400_with_the_bare_ckan_string(client: FlaskClient) -> None:
    response = client.get("/api/3/action/hg_test_write")
    assert response.status_code == 400
    assert body(response) == (
        "Bad request - JSON Error: Invalid request. Please use POST method for your request"
    )


@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_action_is_400_with_the_bare_ckan_string(client: FlaskClient, method: str) -> None:
    response = getattr(client, method)("/api/3/action/no_such_action")
    assert response.status_code == 400
    assert body(response) == "Bad request - Action name not known: no_such_action"


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": ',
        b"{'single': 'quotes'}",
        b'{"a": 1} trailing',
        b"\xff\xfe not utf-8",
        b"[" * 100_000,
        b'{"n": ' + b"9" * 10_000 + b"}",
    ],
    ids=["truncated", "single-quotes", "trailing", "not-utf8", "deep-nesting", "huge-int"],
)
def test_malformed_json_is_400_json_error(client: FlaskClient, raw: bytes) -> None:
    response = client.post("/api/3/action/hg_test_write", data=raw, content_type="application/json")
    assert response.status_code == 400
    message = body(response)
    assert message.startswith("Bad request - JSON Error: Error decoding JSON data.")


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"3", b"null"])
def test_json_that_is_not_an_object_is_400(client: FlaskClient, raw: bytes) -> None:
    response = client.post("/api/3/action/hg_test_write", data=raw, content_type="application/json")
    assert response.status_code == 400
    message = body(response)
    assert message.startswith("Bad request - JSON Error: Request data JSON decoded to ")
    assert message.endswith("but it needs to be a dictionary.")


def test_malformed_legacy_form_json_is_400(client: FlaskClient) -> None:
    response = client.post(
        "/api/3/action/hg_test_write",
        data='{"a": ',
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
    assert body(response).startswith("Bad request - JSON Error: Error decoding JSON data.")


def test_other_http_methods_get_a_json_405(client: FlaskClient) -> None:
    response = client.put("/api/3/action/hg_test_write", json={})
    assert response.status_code == 405
    assert body(response)["success"] is False
    assert "POST" in response.headers["Allow"]


# -- the error envelope -------------------------------------------------------------


def test_validation_error_is_409_with_the_field_dict(client: FlaskClient) -> None:
    response = client.post("/api/3/action/hg_test_invalid", json={})
    assert response.status_code == 409
    assert body(response) == {
        "help": f"{SITE_URL}/api/3/action/help_show?name=hg_test_invalid",
        "success": False,
        "error": {
            "name": ["Missing value"],
            "url": ["Must be a URL"],
            "__type": "Validation Error",
        },
    }


def test_validation_error_from_text_has_a_message(client: FlaskClient) -> None:
    response = client.get("/api/3/action/hg_test_invalid_text")
    assert response.status_code == 409
    assert body(response)["error"] == {
        "message": "Organization cannot be deleted while it still has datasets",
        "__type": "Validation Error",
    }


@pytest.mark.parametrize(
    ("query", "message"), [("", "Access denied"), ("?why=no+way", "Access denied: no way")]
)
def test_not_authorized_is_403(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/api/3/action/hg_test_denied{query}")
    assert response.status_code == 403
    assert body(response)["error"] == {"__type": "Authorization Error", "message": message}
    assert body(response)["success"] is False


@pytest.mark.parametrize(
    ("query", "message"), [("", "Not found"), ("?what=Dataset", "Not found: Dataset")]
)
def test_not_found_is_404(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/api/3/action/hg_test_missing{query}")
    assert response.status_code == 404
    assert body(response)["error"] == {"__type": "Not Found Error", "message": message}


def test_unexpected_exception_is_500_logged_never_shown(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="heliograph.web.views.api"):
        response = client.get("/api/3/action/hg_test_boom")
    assert response.status_code == 500
    assert body(response)["error"] == {
        "__type": "Internal Server Error",
        "message": "Internal Server Error",
    }
    assert b"secret internal detail" not in response.data
    assert b"Traceback" not in response.data
    logged = [r for r in caplog.records if r.name == "heliograph.web.views.api"]
    assert logged and logged[0].exc_info is not None
    assert "hg_test_boom" in logged[0].getMessage()


def test_unserializable_result_is_500_not_a_crash(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.CRITICAL, logger="heliograph.web.views.api"):
        response = client.get("/api/3/action/hg_test_unserializable")
    assert response.status_code == 500
    assert body(response)["error"]["__type"] == "Internal Server Error"


# -- oversize bodies ------------------------------------------------------------------


@pytest.fixture
def small_client(make_web_app: t.Any) -> FlaskClient:
    client: FlaskClient = make_web_app(heliograph__max_request_size_mb="1").test_client()
    return client


def test_oversize_json_body_gets_a_413_json_envelope(small_client: FlaskClient) -> None:
    payload = json.dumps({"notes": "x" * (1024 * 1024 + 10)})
    response = small_client.post(
        "/api/3/action/hg_test_write", data=payload, content_type="application/json"
    )
    assert response.status_code == 413
    error = body(response)["error"]
    assert body(response)["success"] is False
    assert error["__type"] == "Request Too Large"
    assert "heliograph.max_request_size_mb" in error["message"]


def test_oversize_multipart_upload_gets_a_413_json_envelope(small_client: FlaskClient) -> None:
    response = small_client.post(
        "/api/3/action/hg_test_write",
        data={"upload": (io.BytesIO(b"x" * (2 * 1024 * 1024)), "big.bin")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert body(response)["error"]["__type"] == "Request Too Large"


def test_body_just_under_the_limit_is_accepted(small_client: FlaskClient) -> None:
    payload = json.dumps({"notes": "x" * (1024 * 1024 - 100)})
    response = small_client.post(
        "/api/3/action/hg_test_write", data=payload, content_type="application/json"
    )
    assert response.status_code == 200


# -- who is calling -------------------------------------------------------------------


@pytest.fixture
def alice(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> str:
    """A user 'alice' whose token is 'tok-alice' (the token lookup stubbed)."""
    session = model.Session()
    session.add(model.User(name="alice", email="alice@example.org"))
    session.commit()
    model.Session.remove()

    def user_for_token(session: t.Any, token: str) -> model.User | None:
        if token != "tok-alice":
            return None
        return session.query(model.User).filter_by(name="alice").one_or_none()  # type: ignore[no-any-return]

    monkeypatch.setattr(identity, "user_for_token", user_for_token)
    return "tok-alice"


@pytest.mark.parametrize("header", ["Authorization", "X-CKAN-API-Key"])
def test_api_token_header_identifies_the_user(client: FlaskClient, alice: str, header: str) -> None:
    response = client.get("/api/3/action/hg_test_echo", headers={header: alice})
    assert body(response)["result"]["user"] == "alice"


def test_bearer_prefix_is_tolerated(client: FlaskClient, alice: str) -> None:
    response = client.get(
        "/api/3/action/hg_test_echo", headers={"Authorization": f"Bearer {alice}"}
    )
    assert body(response)["result"]["user"] == "alice"


def test_invalid_token_runs_as_anonymous(client: FlaskClient, alice: str) -> None:
    response = client.get("/api/3/action/hg_test_echo", headers={"Authorization": "nonsense"})
    assert response.status_code == 200
    assert body(response)["result"]["user"] is None


def test_ckanapi_headers_with_one_good_token(client: FlaskClient, alice: str) -> None:
    headers = {"Authorization": alice, "X-CKAN-API-Key": alice}
    response = client.post("/api/action/hg_test_echo", json={}, headers=headers)
    assert body(response)["result"]["user"] == "alice"


def test_jsonp_callback_wraps_a_get_and_runs_as_anonymous(client: FlaskClient, alice: str) -> None:
    response = client.get(
        "/api/3/action/hg_test_echo?callback=cb&a=1", headers={"Authorization": alice}
    )
    assert response.status_code == 200
    assert response.content_type.startswith("application/javascript")
    text = response.get_data(as_text=True)
    assert text.startswith("cb(") and text.endswith(");")
    result = json.loads(text[3:-2])["result"]
    assert result["user"] is None
    assert result["data"] == {"a": "1"}


def test_unsafe_jsonp_callback_is_ignored(client: FlaskClient) -> None:
    response = client.get("/api/3/action/hg_test_echo?callback=alert(1)//")
    assert response.headers["Content-Type"] == JSON_TYPE
