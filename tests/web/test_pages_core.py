"""The pages over the real core actions (skipped until they are there)."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import logic, model

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def portal(app: Flask) -> dict[str, t.Any]:
    """A sysadmin, an organization, a group, a public and a private dataset."""
    session = model.Session()
    session.add(model.User(name="admin", email="admin@example.org", sysadmin=True))
    session.commit()

    def call(name: str, data: dict[str, t.Any]) -> t.Any:
        return logic.get_action(name)({"user": "admin", "session": model.Session}, data)

    org = call("organization_create", {"name": "sun-watchers", "title": "Sun Watchers"})
    group = call("group_create", {"name": "astronomy", "title": "Astronomy"})
    public = call(
        "package_create",
        {
            "name": "sunspots",
            "title": "Sunspot counts",
            "owner_org": org["id"],
            "notes": "Daily numbers",
            "resources": [{"url": "http://example.org/s.csv", "name": "Counts CSV"}],
        },
    )
    call("package_create", {"name": "flares", "owner_org": org["id"], "private": True})
    model.Session.remove()
    return {"org": org, "group": group, "public": public}


def test_dataset_pages_over_the_core_actions(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    listing = client.get("/dataset/")
    assert listing.status_code == 200
    assert b"Sunspot counts" in listing.data
    assert b"flares" not in listing.data
    page = client.get("/dataset/sunspots")
    assert page.status_code == 200
    assert b"Sun Watchers" in page.data
    resource_id = portal["public"]["resources"][0]["id"]
    assert client.get(f"/dataset/sunspots/resource/{resource_id}").status_code == 200


def test_private_dataset_page_is_refused_to_anonymous(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    response = client.get("/dataset/flares")
    assert response.status_code in (403, 404)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/organization/", b"Sun Watchers"),
        ("/organization/sun-watchers", b"Sunspot counts"),
        ("/group/", b"Astronomy"),
        ("/group/astronomy", b"Astronomy"),
        ("/user/", b"admin"),
        ("/user/admin", b"admin"),
    ],
)
def test_group_organization_and_user_pages(
    client: FlaskClient, portal: dict[str, t.Any], path: str, text: bytes
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert text in response.data


@pytest.mark.parametrize("path", ["/organization/nope", "/group/nope", "/user/nope"])
def test_missing_things_are_404_pages(
    client: FlaskClient, portal: dict[str, t.Any], path: str
) -> None:
    assert client.get(path).status_code == 404


def test_an_organization_is_not_a_group_page(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    assert client.get("/group/sun-watchers").status_code == 404
    assert client.get("/organization/astronomy").status_code == 404


def test_real_api_token_over_the_test_client(client: FlaskClient, portal: dict[str, t.Any]) -> None:
    from heliograph.logic import tokens

    session = model.Session()
    admin = session.query(model.User).filter_by(name="admin").one()
    _row, token = tokens.create_token(session, admin, "pages test")
    session.commit()
    model.Session.remove()
    response = client.get("/dataset/flares", headers={"Authorization": token})
    assert response.status_code == 200
    shown = client.get("/api/3/action/package_show?id=flares", headers={"Authorization": token})
    assert shown.json is not None and shown.json["result"]["private"] is True
