"""A person in a real browser (headless Chromium driven by Playwright): register,
log in with a wrong then a right password, create a dataset with an uploaded
file, download it, log out - and the signals recorded along the way."""

from __future__ import annotations

import os
import shutil
import typing as t
from pathlib import Path

import pytest

from heliograph import logic
from heliograph.lib import signals

CHROMIUM = os.environ.get("HELIOGRAPH_CHROMIUM") or shutil.which("chromium") or ""

pytestmark = pytest.mark.usefixtures("core_actions")
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(tmp_path: Path) -> t.Iterator[t.Any]:
    if not CHROMIUM:
        reason = "Chromium is not installed (Debian's 'chromium'; .ci/run installs it)"
        if os.environ.get("HELIOGRAPH_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason}; HELIOGRAPH_REQUIRE_SERVICES=1 requires it")
        pytest.skip(reason)
    with playwright_sync.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def test_a_person_registers_logs_in_publishes_a_file_downloads_it_and_logs_out(
    server_url: str, browser_page: t.Any, signal_recorder: t.Any, tmp_path: Path
) -> None:
    page = browser_page
    watched = (
        signals.user_created,
        signals.failed_login,
        signals.user_logged_in,
        signals.user_logged_out,
        signals.resource_download,
        signals.action_succeeded,
    )
    for sig in watched:
        signal_recorder.record(sig)

    # register
    page.goto(f"{server_url}/user/register")
    page.fill("input[name=name]", "ada")
    page.fill("input[name=email]", "ada@example.org")
    page.fill("input[name=password1]", "correct horse battery")
    page.fill("input[name=password2]", "correct horse battery")
    page.click("main form button[type=submit]")
    signal_recorder.assert_sent(signals.user_created, sender="ada", times=1)
    page.click("button:has-text('Log out')")
    signal_recorder.assert_sent(signals.user_logged_out, times=1)

    # a wrong password, then the right one
    page.goto(f"{server_url}/user/login")
    page.fill("input[name=login]", "ada")
    page.fill("input[name=password]", "wrong password")
    page.click("main form button[type=submit]")
    assert page.locator("input[name=password]").count() == 1  # still on the login form
    signal_recorder.assert_sent(signals.failed_login, sender="ada", times=1)
    before_login = len(signal_recorder.calls(signals.user_logged_in))
    page.fill("input[name=login]", "ada")
    page.fill("input[name=password]", "correct horse battery")
    page.click("main form button[type=submit]")
    assert len(signal_recorder.calls(signals.user_logged_in)) == before_login + 1
    signal_recorder.assert_sent(signals.failed_login, times=1)

    # an organization for Ada (there is no page for it yet), then a dataset in a form
    logic.get_action("organization_create")({"user": "ada"}, {"name": "ada-org"})
    page.goto(f"{server_url}/dataset/new")
    page.fill("input[name=title]", "Tide tables")
    page.fill("input[name=name]", "tide-tables")
    page.select_option("select[name=owner_org]", label="ada-org")
    page.click("main form button[type=submit]")
    signal_recorder.assert_sent(signals.action_succeeded, sender="package_create", times=1)

    # a resource with an uploaded file
    upload = tmp_path / "tides.csv"
    upload.write_text("hour,height\n0,1.2\n6,3.4\n", encoding="utf-8")
    page.goto(f"{server_url}/dataset/tide-tables/resource/new")
    page.fill("input[name=name]", "Tides")
    page.set_input_files("input[name=upload]", str(upload))
    page.click("main form button[type=submit]")
    signal_recorder.assert_sent(signals.action_succeeded, sender="resource_create", times=1)
    dataset = logic.get_action("package_show")({"user": "ada"}, {"id": "tide-tables"})
    (resource,) = dataset["resources"]
    assert resource["url_type"] == "upload"

    # the dataset page links to the download, which carries the file
    page.goto(f"{server_url}/dataset/tide-tables")
    link = page.locator(f"a[href*='/resource/{resource['id']}/download']").first
    href = link.get_attribute("href")
    assert href
    response = page.context.request.get(href if "://" in href else server_url + href)
    assert response.status == 200
    assert response.body() == upload.read_bytes()
    assert response.headers["content-type"].startswith("text/csv")
    signal_recorder.assert_sent(signals.resource_download, sender=resource["id"], times=1)

    # log out
    page.click("button:has-text('Log out')")
    assert len(signal_recorder.calls(signals.user_logged_out)) == 2
    assert page.locator("button:has-text('Log out')").count() == 0
    page.goto(f"{server_url}/dataset/new")
    assert page.locator("input[name=title]").count() == 0  # the form is not offered
