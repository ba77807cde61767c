"""The main pages in a real browser (headless Chromium through Playwright, set
up as in test_browser.py) at a 390 px phone width and a 1280 px window: each
page is screenshotted (under the test's tmp dir) and nothing may overflow
sideways (``document.documentElement.scrollWidth <= innerWidth``). Wide tables
scroll inside their own box; long words and URLs wrap. The portal runs with
the activity and datastore plugins, on data made to be awkward: long titles,
unbroken URLs, a 14-column table, a changes page with a long description.
The dataset form's name is filled from the title as it is typed."""

from __future__ import annotations

import collections.abc as c
import os
import threading
import typing as t
from pathlib import Path

import pytest
import waitress
from flask import Flask
from waitress import wasyncore

from heliograph import logic, model
from tests.web.accounts_helpers import PASSWORD, make_user
from tests.web.test_browser import CHROMIUM, FLAGS

playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

WIDTHS = (390, 1280)
LONG_URL = "https://data.example.org/" + "very-long-path-segment-" * 12 + "file.csv"

OVERFLOWING = """() => {
  const width = window.innerWidth;
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && !el.closest('.table-scroll')) {
      found.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') +
                 ' right=' + Math.round(box.right));
    }
  }
  return found.slice(0, 8);
}"""


@pytest.fixture
def saved_config() -> c.Iterator[None]:
    from heliograph.config import config

    saved = dict(config)
    yield
    config.replace(saved)


@pytest.fixture
def portal_app(tmp_path: Path, with_plugins: t.Any, saved_config: None) -> c.Iterator[Flask]:
    """The portal with the activity and datastore plugins, on SQLite files of its own."""
    from heliograph.ext.datastore import backend
    from heliograph.web import make_app

    with_plugins("activity", "datastore")
    app = make_app(
        {
            "sqlalchemy.url": f"sqlite:///{tmp_path / 'portal.db'}",
            "heliograph.instance_path": str(tmp_path / "instance"),
            "heliograph.plugins": "activity datastore",
            "heliograph.datastore.url": f"sqlite:///{tmp_path / 'datastore.db'}",
            "heliograph.site_url": "http://127.0.0.1",
        }
    )
    yield app
    model.Session.remove()
    backend.dispose_all()


def _call(name: str, data: dict[str, t.Any], user: str = "boss") -> t.Any:
    return logic.get_action(name)({"user": user, "session": model.Session}, data)


def _fill(app: Flask) -> dict[str, str]:
    """Awkward data; the paths of the pages to look at."""
    with app.app_context():
        make_user("boss")
        session = model.Session()
        session.query(model.User).filter_by(name="boss").one().sysadmin = True
        session.commit()
        org = _call("organization_create", {"name": "sun-watchers", "title": "Sun Watchers"})
        _call("group_create", {"name": "astronomy", "title": "Astronomy"})
        pkg = _call(
            "package_create",
            {
                "name": "sunspots",
                "title": "Sunspot counts from the observatories of the northern hemisphere",
                "owner_org": org["id"],
                "notes": "# Daily counts\n\nFrom "
                + LONG_URL
                + "\n\n| a | b |\n|---|---|\n| 1 | 2 |",
                "url": LONG_URL,
                "license_id": "cc-by",
                "author": "Ada",
                "version": "2.1",
                "tags": [{"name": "sun"}, {"name": "solar-cycle-" + "x" * 40}],
                "groups": [{"name": "astronomy"}],
                "extras": [{"key": "source-" + "y" * 50, "value": LONG_URL}],
                "resources": [{"url": LONG_URL, "name": "Counts", "url_type": "datastore"}],
            },
        )
        rid = pkg["resources"][0]["id"]
        fields = [{"id": f"column_number_{n}", "type": "text"} for n in range(14)]
        records = [{f["id"]: f"value {n} " + "z" * 20 for f in fields} for n in range(60)]
        _call("datastore_create", {"resource_id": rid, "fields": fields, "records": records})
        _call(
            "package_patch",
            {"id": "sunspots", "notes": "Hourly " + "w" * 400 + " " + LONG_URL, "version": "3"},
        )
        activity_id = _call("package_activity_list", {"id": "sunspots"})[0]["id"]
        model.Session.remove()
    return {
        "home": "/",
        "search": "/dataset/?q=sun",
        "dataset": "/dataset/sunspots",
        "dataset-edit": "/dataset/edit/sunspots",
        "dataset-new": "/dataset/new",
        "dataset-delete": "/dataset/delete/sunspots",
        "dataset-groups": "/dataset/groups/sunspots",
        "resource": f"/dataset/sunspots/resource/{rid}",
        "resource-edit": f"/dataset/sunspots/resource/{rid}/edit",
        "changes": f"/dataset/changes/{activity_id}",
        "activity": "/dataset/activity/sunspots",
        "organizations": "/organization/",
        "organization": "/organization/sun-watchers",
        "group": "/group/astronomy",
        "user": "/user/boss",
        "admin": "/ckan-admin",
        "register": "/user/register",
        "error": "/dataset/no-such-dataset",
    }


@pytest.fixture
def served(portal_app: Flask) -> c.Iterator[str]:
    server = waitress.create_server(portal_app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="layout-portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)
        thread.join(timeout=10)


def _browser() -> t.Any:
    if not CHROMIUM:
        reason = "Chromium is not installed (Debian's 'chromium'; .ci/run installs it)"
        if os.environ.get("HELIOGRAPH_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; HELIOGRAPH_REQUIRE_SERVICES=1 requires it")
        pytest.skip(reason)
    return playwright_sync.sync_playwright()


def test_main_pages_fit_a_phone_and_a_window_without_sideways_overflow(
    portal_app: Flask, served: str, tmp_path: Path
) -> None:
    pages = _fill(portal_app)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    overflowing: dict[str, list[str]] = {}
    with _browser() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for width in WIDTHS:
                context = browser.new_context(viewport={"width": width, "height": 900})
                page = context.new_page()
                page.set_default_timeout(15_000)
                page.goto(f"{served}/user/login")
                page.fill("input[name=login]", "boss")
                page.fill("input[name=password]", PASSWORD)
                page.click("main form button[type=submit]")
                for name, path in pages.items():
                    response = page.goto(served + path)
                    assert response is not None
                    expected = 404 if name == "error" else 200
                    assert response.status == expected, (name, response.status)
                    page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
                    fits = page.evaluate(
                        "document.documentElement.scrollWidth <= window.innerWidth"
                    )
                    if not fits:
                        overflowing[f"{name} at {width}px"] = page.evaluate(OVERFLOWING)
                # a form with its errors, all shown at once
                page.goto(f"{served}/dataset/new")
                page.fill("input[name=name]", "Bad Name!")
                page.fill("input[name=author_email]", "not-an-email")
                page.click("main form button[type=submit]")
                for field in ("name", "author_email", "owner_org"):  # every error at once
                    assert page.locator(f"#{field}-error").is_visible(), field
                page.screenshot(path=str(shots / f"form-errors-{width}.png"), full_page=True)
                if not page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
                    overflowing[f"form errors at {width}px"] = page.evaluate(OVERFLOWING)
                # the name follows the title as it is typed (slug.js), until typed itself
                page.goto(f"{served}/dataset/new")
                page.type("input[name=title]", "Tide tables: Brest 2024")
                assert page.input_value("input[name=name]") == "tide-tables-brest-2024"
                context.close()
        finally:
            browser.close()
    assert not overflowing, "\n".join(f"{k}: {v}" for k, v in overflowing.items())
    assert len(list(shots.glob("*.png"))) == (len(pages) + 1) * len(WIDTHS)
