"""The real client, ckanapi, against the portal served by waitress on a loopback port."""

from __future__ import annotations

import typing as t

import pytest
from flask import Flask

from tests.web.api_helpers import make_token

ckanapi = pytest.importorskip("ckanapi")

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def admin_token(live_app: Flask) -> str:
    """A sysadmin made directly in the database, and an API token for it."""
    return make_token("admin", sysadmin=True)


def test_ckanapi_drives_the_portal(server_url: str, admin_token: str) -> None:
    errors = ckanapi.errors
    admin = ckanapi.RemoteCKAN(server_url, apikey=admin_token)
    anonymous = ckanapi.RemoteCKAN(server_url)

    # users and tokens, over the API
    bob = admin.action.user_create(name="bob", email="bob@example.org", password="correct-horse-9")
    assert bob["name"] == "bob"
    bob_token = admin.action.api_token_create(user="bob", name="bob's laptop")["token"]
    as_bob = ckanapi.RemoteCKAN(server_url, apikey=bob_token)
    assert as_bob.action.user_show(id="bob")["name"] == "bob"

    # an organization with bob as editor
    org = admin.action.organization_create(name="sun-watchers", title="Sun Watchers")
    assert org["name"] == "sun-watchers"
    assert "sun-watchers" in anonymous.action.organization_list()
    admin.action.member_create(id=org["id"], object="bob", object_type="user", capacity="editor")

    # datasets and resources
    pkg = as_bob.action.package_create(
        name="sunspots",
        title="Sunspot counts",
        owner_org=org["id"],
        notes="Daily sunspot numbers",
        tags=[{"name": "sun"}],
    )
    assert pkg["name"] == "sunspots" and pkg["owner_org"] == org["id"]
    res = as_bob.action.resource_create(
        package_id=pkg["id"], url="http://example.org/sunspots.csv", name="CSV", format="CSV"
    )
    assert res["package_id"] == pkg["id"]
    hidden = admin.action.package_create(name="flares", owner_org=org["id"], private=True)
    assert hidden["private"] is True

    shown = anonymous.action.package_show(id="sunspots")
    assert [r["id"] for r in shown["resources"]] == [res["id"]]
    assert anonymous.action.resource_show(id=res["id"])["name"] == "CSV"

    # update and patch
    updated = as_bob.action.package_update(**{**shown, "title": "Sunspot numbers"})
    assert updated["title"] == "Sunspot numbers"
    patched = as_bob.action.package_patch(id="sunspots", notes="Monthly sunspot numbers")
    assert patched["notes"] == "Monthly sunspot numbers"
    assert patched["title"] == "Sunspot numbers"
    res2 = as_bob.action.resource_update(
        id=res["id"], url="http://example.org/v2.csv", name="CSV 2"
    )
    assert res2["name"] == "CSV 2"

    # search, over POST and over GET
    found = anonymous.action.package_search(q="sunspot")
    assert found["count"] == 1 and found["results"][0]["name"] == "sunspots"
    by_get = ckanapi.RemoteCKAN(server_url, get_only=True)
    assert by_get.action.package_search(fq="tags:sun")["count"] == 1
    assert "flares" not in anonymous.action.package_list()
    assert admin.action.package_search(q="flares", include_private=True)["count"] == 1

    # the errors ckanapi raises where CKAN's would
    with pytest.raises(errors.ValidationError) as invalid:
        as_bob.action.package_create(name="sunspots", owner_org=org["id"])
    assert "name" in invalid.value.error_dict
    with pytest.raises(errors.ValidationError) as missing:
        as_bob.action.package_create(title="No name", owner_org=org["id"])
    assert "name" in missing.value.error_dict
    with pytest.raises(errors.NotAuthorized):
        anonymous.action.package_create(name="anonymous-data", owner_org=org["id"])
    with pytest.raises(errors.NotAuthorized):
        anonymous.action.package_show(id="flares")
    with pytest.raises(errors.NotAuthorized):
        ckanapi.RemoteCKAN(server_url, apikey="not-a-token").action.package_create(name="x")
    with pytest.raises(errors.NotFound):
        anonymous.action.package_show(id="no-such-dataset")
    with pytest.raises(errors.NotFound):
        anonymous.action.resource_show(id="no-such-resource")
    with pytest.raises(errors.CKANAPIError):
        anonymous.call_action("no_such_action")
    with pytest.raises(errors.SearchQueryError) as bad_search:
        anonymous.action.package_search(q="sun", colour="red")
    assert "colour" in str(bad_search.value)

    # delete
    assert as_bob.action.resource_delete(id=res["id"]) is None
    assert anonymous.action.package_show(id="sunspots")["resources"] == []
    assert as_bob.action.package_delete(id="sunspots") is None
    assert "sunspots" not in anonymous.action.package_list()
    assert anonymous.action.package_search(q="sunspot")["count"] == 0


def test_ckanapi_sees_status_show(server_url: str) -> None:
    status: dict[str, t.Any] = ckanapi.RemoteCKAN(server_url).action.status_show()
    assert status["site_url"] == "http://portal.test"
