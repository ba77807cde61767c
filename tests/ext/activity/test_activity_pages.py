"""The activity pages and the streams on the portal's pages."""

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

from heliograph import model

Call = c.Callable[..., t.Any]


@pytest.fixture
def app(activity_tables: sa.Engine, tmp_path: Path) -> Flask:
    from heliograph.web import make_app

    return make_app(
        {
            "sqlalchemy.url": activity_tables.url.render_as_string(hide_password=False),
            "heliograph.instance_path": str(tmp_path),
            "heliograph.plugins": "activity",
        }
    )


def client_as(app: Flask, user: model.User | None) -> FlaskClient:
    """A client signed in as ``user`` (Flask-Login's session keys), or anonymous."""
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
    """The page's visible text, tags dropped and whitespace folded."""
    body = response.get_data(as_text=True)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_dataset_page_shows_its_stream_with_actor_and_verb(
    app: Flask, call: Call, dataset: dict[str, t.Any], people: dict[str, model.User]
) -> None:
    call("package_patch", {"id": "sunspots", "notes": "Hourly counts"}, user="admin")
    page = client_as(app, None).get("/dataset/sunspots")
    assert page.status_code == 200
    shown = text(page)
    assert "Activity stream" in shown
    assert "admin updated the dataset Sunspot counts" in shown
    assert "editor created the dataset Sunspot counts" in shown
    assert shown.index("admin updated") < shown.index("editor created")
    body = page.get_data(as_text=True)
    assert 'href="/dataset/activity/sunspots"' in body
    assert re.search(r'href="/dataset/changes/[0-9a-f-]{36}"', body)


def test_full_stream_pages_for_dataset_org_group_and_user(
    app: Flask, call: Call, dataset: dict[str, t.Any], people: dict[str, model.User]
) -> None:
    call("group_create", {"name": "astronomy"}, user="sysadmin")
    client = client_as(app, None)
    assert "editor created the dataset Sunspot counts" in text(
        client.get("/dataset/activity/sunspots")
    )
    org_page = text(client.get("/organization/activity/sun-watchers"))
    assert "editor created the dataset Sunspot counts" in org_page
    assert "admin created the organization Sun Watchers" in org_page
    assert "sysadmin created the group astronomy" in text(client.get("/group/activity/astronomy"))
    assert "editor created the dataset" in text(client.get("/user/activity/editor"))
    assert "created the organization" in text(client.get("/organization/sun-watchers"))
    assert "created the group astronomy" in text(client.get("/group/astronomy"))
    assert "editor created the dataset Sunspot counts" in text(client.get("/user/editor"))
    assert client.get("/dataset/activity/no-such-dataset").status_code == 404
    assert client.get("/user/activity/nobody-here").status_code == 404


def test_stream_pages_page_with_older_and_newer_links(
    app: Flask, call: Call, dataset: dict[str, t.Any]
) -> None:
    for i in range(32):
        call("package_patch", {"id": "sunspots", "notes": f"note {i}"}, user="editor")
    client = client_as(app, None)
    first = client.get("/dataset/activity/sunspots").get_data(as_text=True)
    assert first.count('class="activity"') == 31
    older = re.search(r'class="older" href="\?before=([0-9.e+]+)"', first)
    assert older and 'class="newer"' not in first
    second = client.get(f"/dataset/activity/sunspots?before={older.group(1)}")
    page2 = second.get_data(as_text=True)
    assert page2.count('class="activity"') == 2  # 33 activities in all
    assert "created the dataset" in text(second)
    newer = re.search(r'class="newer" href="\?after=([0-9.e+]+)"', page2)
    assert newer
    back = client.get(f"/dataset/activity/sunspots?after={newer.group(1)}").get_data(as_text=True)
    assert back.count('class="activity"') == 31
    assert client.get("/dataset/activity/sunspots?before=soon").status_code == 400


def test_changes_page_shows_the_diff_escaped(
    app: Flask, call: Call, dataset: dict[str, t.Any]
) -> None:
    call(
        "package_patch",
        {"id": "sunspots", "notes": "<script>alert(1)</script>"},
        user="editor",
    )
    newest = call("package_activity_list", {"id": "sunspots"})[0]
    page = client_as(app, None).get(f"/dataset/changes/{newest['id']}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body
    assert "Daily" in body and 'class="diff"' in body
    first = call("package_activity_list", {"id": "sunspots"})[-1]
    assert client_as(app, None).get(f"/dataset/changes/{first['id']}").status_code == 404


def test_hostile_titles_are_escaped_in_streams(
    app: Flask, call: Call, org: dict[str, t.Any]
) -> None:
    call(
        "package_create",
        {"name": "hostile", "title": "<img src=x onerror=alert(1)>", "owner_org": org["id"]},
        user="editor",
    )
    body = client_as(app, None).get("/dataset/activity/hostile").get_data(as_text=True)
    assert "<img src=x" not in body and "&lt;img src=x" in body


def test_private_dataset_streams_follow_the_dataset(
    app: Flask, call: Call, private_dataset: dict[str, t.Any], people: dict[str, model.User]
) -> None:
    call("package_patch", {"id": "flares", "notes": "secret"}, user="editor")
    newest = call("package_activity_list", {"id": "flares"}, user="member")[0]
    outsider = client_as(app, people["outsider"])
    anonymous = client_as(app, None)
    for client in (outsider, anonymous):
        assert client.get("/dataset/activity/flares").status_code in (403, 404)
        assert client.get(f"/dataset/changes/{newest['id']}").status_code == 403
        assert "flares" not in text(client.get("/organization/sun-watchers"))
        assert "flares" not in text(client.get("/user/activity/editor"))
    member = client_as(app, people["member"])
    assert "editor updated the dataset flares" in text(member.get("/dataset/activity/flares"))
    assert member.get(f"/dataset/changes/{newest['id']}").status_code == 200
    assert "flares" in text(member.get("/organization/sun-watchers"))


def test_dashboard_needs_a_login(
    app: Flask, call: Call, private_dataset: dict[str, t.Any], people: dict[str, model.User]
) -> None:
    anonymous = client_as(app, None).get("/dashboard")
    assert anonymous.status_code == 302 and "/user/login" in anonymous.headers["Location"]
    mine = client_as(app, people["member"]).get("/dashboard")
    assert mine.status_code == 200
    assert "editor created the dataset flares" in text(mine)
    assert "flares" not in text(client_as(app, people["outsider"]).get("/dashboard"))


def test_without_the_plugin_core_pages_work_with_no_stream(
    activity_tables: sa.Engine, tmp_path: Path, call: Call, dataset: dict[str, t.Any]
) -> None:
    import heliograph.plugins as p
    from heliograph.web import make_app

    p.unload("activity")
    bare = make_app(
        {
            "sqlalchemy.url": activity_tables.url.render_as_string(hide_password=False),
            "heliograph.instance_path": str(tmp_path),
            "heliograph.plugins": "",
        }
    )
    client = bare.test_client()
    page = client.get("/dataset/sunspots")
    assert page.status_code == 200
    assert "Activity stream" not in text(page)
    assert client.get("/dataset/activity/sunspots").status_code == 404
