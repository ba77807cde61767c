"""The activity actions over the action API, and recording for API callers."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from heliograph import model
from heliograph.logic import tokens


@pytest.fixture
def client(activity_tables: sa.Engine, tmp_path: Path) -> FlaskClient:
    from heliograph.web import make_app

    app = make_app(
        {
            "sqlalchemy.url": activity_tables.url.render_as_string(hide_password=False),
            "heliograph.instance_path": str(tmp_path),
            "heliograph.plugins": "activity",
        }
    )
    return app.test_client()


def _token(name: str) -> tuple[str, str]:
    session = model.Session()
    user = model.User(name=name, email=f"{name}@example.org")
    session.add(user)
    session.flush()
    _row, token = tokens.create_token(session, user, "test")
    user_id = user.id
    session.commit()
    model.Session.remove()
    return user_id, t.cast(str, token)


def _post(client: FlaskClient, token: str, action: str, data: dict[str, t.Any]) -> t.Any:
    response = client.post(f"/api/3/action/{action}", json=data, headers={"Authorization": token})
    assert response.status_code == 200, response.json
    return response.json["result"]


def test_an_api_change_is_recorded_and_listed_over_get(client: FlaskClient) -> None:
    user_id, token = _token("maker")
    _post(client, token, "organization_create", {"name": "sun"})
    _post(client, token, "package_create", {"name": "sunspots", "owner_org": "sun"})
    listed = client.get("/api/3/action/package_activity_list?id=sunspots")
    assert listed.status_code == 200
    (activity,) = listed.json["result"]
    assert activity["activity_type"] == "new package"
    assert activity["user_id"] == user_id
    assert activity["data"]["actor"] == "maker"


def test_private_streams_and_bad_parameters_over_the_api(client: FlaskClient) -> None:
    _user_id, token = _token("maker")
    _post(client, token, "organization_create", {"name": "sun"})
    _post(client, token, "package_create", {"name": "flares", "owner_org": "sun", "private": True})
    refused = client.get("/api/3/action/package_activity_list?id=flares")
    assert refused.status_code == 403
    assert refused.json["success"] is False
    own = client.get(
        "/api/3/action/package_activity_list?id=flares", headers={"Authorization": token}
    )
    assert own.status_code == 200 and len(own.json["result"]) == 1
    bad = client.get(
        "/api/3/action/package_activity_list?id=flares&limit=lots",
        headers={"Authorization": token},
    )
    assert bad.status_code == 409
    assert "limit" in bad.json["error"]
    write = client.get("/api/3/action/activity_diff?id=x&object_type=package&diff_type=nope")
    assert write.status_code == 409
    assert write.json["error"]["message"] == "diff_type not recognized"
