"""The README's walkthrough in a real browser (headless Chromium, Playwright):
register, become a sysadmin on the command line, create an organization,
publish a dataset with a file, load it into the datastore on the command
line, and explore it (the search page's facets, the API, the resource's
data explorer) - every step through the pages a newcomer uses."""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from heliograph.cli import main
from heliograph.config import config as heliograph_config
from tests.web.test_browser import browser_page  # noqa: F401  (the browser fixture)

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def live_app(make_web_app: t.Callable[..., Flask], core_actions: None) -> Flask:
    return make_web_app(**{"heliograph.plugins": "datastore"})


def _heliograph(app: Flask, tmp_path: Path, *args: str) -> str:
    """Run a `heliograph` command on the portal's instance and database."""
    config = heliograph_config
    ini = tmp_path / "portal.ini"
    ini.write_text(
        "[app:main]\n"
        f"sqlalchemy.url = {config['sqlalchemy.url']}\n"
        f"heliograph.instance_path = {config['heliograph.instance_path']}\n"
        "heliograph.plugins = datastore\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, [*args, "--config", str(ini)])
    assert result.exit_code == 0, result.output
    return t.cast(str, result.stdout)


def test_the_readme_walkthrough(
    server_url: str,
    live_app: Flask,
    browser_page: t.Any,  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    page = browser_page

    # 2. register: logged in, on the dashboard
    page.goto(server_url)
    page.click("header >> text=Register")
    page.fill("input[name=name]", "ada")
    page.fill("input[name=email]", "ada@example.org")
    page.fill("input[name=password1]", "correct horse battery")
    page.fill("input[name=password2]", "correct horse battery")
    page.click("main form button[type=submit]")
    assert page.url == f"{server_url}/dashboard/datasets"
    assert "You do not belong to any organization yet" in page.content()

    # 3. become a sysadmin
    assert "ada is now a sysadmin" in _heliograph(live_app, tmp_path, "sysadmin", "add", "ada")
    page.reload()
    assert page.locator("header >> text=Admin").count() == 1

    # 4. create an organization from the dashboard
    page.click("main >> text=Create an organization")
    page.fill("input[name=title]", "Tide Watchers")
    page.fill("textarea[name=description]", "We measure the sea")
    page.click("main form button[type=submit]")
    assert page.url == f"{server_url}/organization/tide-watchers"

    # 5. publish a dataset with a file, from the organization's page
    page.click("main >> text=Add a dataset")
    page.fill("input[name=title]", "Tide tables")
    page.fill("input[name=name]", "tide-tables")
    assert page.locator("select[name=owner_org] option:checked").inner_text() == "Tide Watchers"
    page.click("main form button[type=submit]")
    upload = tmp_path / "tides.csv"
    upload.write_text("hour,height\n0,1.2\n6,3.4\n12,1.1\n", encoding="utf-8")
    page.fill("input[name=name]", "Tides")
    page.set_input_files("input[name=upload]", str(upload))
    page.click("main form button[type=submit]")
    assert page.url == f"{server_url}/dataset/tide-tables"
    links = page.locator("main a[href*='/resource/']").evaluate_all("els => els.map(e => e.href)")
    ids = {re.search(r"/resource/([0-9a-f-]{36})", href) for href in links} - {None}
    [resource_id] = {found.group(1) for found in ids if found}

    # 6. load it into the datastore
    _heliograph(live_app, tmp_path, "datastore", "load", resource_id, str(upload), "--guess-types")

    # 7. explore it: the rows through the API, the dataset through the search page
    response = page.context.request.get(
        f"{server_url}/api/3/action/datastore_search?resource_id={resource_id}&sort=hour"
    )
    found = json.loads(response.body())["result"]
    assert found["total"] == 3
    assert [float(r["height"]) for r in found["records"]] == [1.2, 3.4, 1.1]
    page.goto(f"{server_url}/dataset/")
    page.click(".facets >> text=Tide Watchers")
    assert "organization=tide-watchers" in page.url
    assert page.locator(".results >> text=Tide tables").count() == 1
    # ... and the resource's data explorer: the rows with their types, a search, the Data API
    page.goto(f"{server_url}/dataset/tide-tables")
    page.click(f"main a[href$='/resource/{resource_id}']")
    assert page.locator("table.records tbody tr").count() == 3
    assert page.locator("table.records thead").inner_text().count("height") == 1
    page.fill("#explorer-q", "3.4")
    page.click("form.explorer-query button[type=submit]")
    assert page.locator("table.records tbody tr").count() == 1
    assert "datastore_search" in page.locator("details.data-api").inner_text()
