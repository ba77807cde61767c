"""The resource page: format (guessed when not given), size, media type,
dates and the download."""

from __future__ import annotations

import io
import re
import typing as t

import pytest
from flask import Flask
from flask.testing import FlaskClient

from heliograph import logic, model
from tests.web.accounts_helpers import log_in
from tests.web.pages_helpers import call, csrf_from, make_portal

pytestmark = pytest.mark.usefixtures("core_actions")


@pytest.fixture
def portal(app: Flask) -> dict[str, t.Any]:
    return make_portal()


def _resources(name: str) -> list[dict[str, t.Any]]:
    shown = logic.get_action("package_show")({"ignore_auth": True}, {"id": name})
    model.Session.remove()
    return t.cast(list[dict[str, t.Any]], shown["resources"])


def _row(html: str, heading: str) -> str:
    found = re.search(rf'<th scope="row">{re.escape(heading)}</th><td[^>]*>(.*?)</td>', html, re.S)
    assert found, f"no {heading} row"
    return found.group(1).strip()


def _upload(client: FlaskClient, filename: str, content: bytes, **fields: str) -> None:
    page = client.get("/dataset/sunspots/resource/new")
    response = client.post(
        "/dataset/sunspots/resource/new",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "upload": (io.BytesIO(content), filename),
            **fields,
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def test_an_upload_without_a_format_gets_it_from_its_file_name(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    _upload(client, "tides.csv", b"hour,height\n0,1.2\n", name="Tides")
    _upload(client, "notes.geojson", b"{}", name="Shapes")
    _upload(client, "given.csv", b"a\n", name="Given", format="TSV")
    by_name = {r["name"]: r for r in _resources("sunspots")}
    assert by_name["Tides"]["format"] == "CSV"
    assert by_name["Shapes"]["format"] == "GeoJSON"
    assert by_name["Given"]["format"] == "TSV"  # what was given stays


def test_a_format_is_guessed_from_the_type_when_the_name_says_nothing() -> None:
    from heliograph.logic.uploads import guess_format

    assert guess_format("data", "application/json") == "JSON"
    assert guess_format("report.PDF") == "PDF"
    assert guess_format("http://example.org/x/rows.xlsx?dl=1") == "XLSX"
    assert guess_format("blob", "application/x-unknown") is None


def test_a_url_resource_without_a_format_gets_it_from_its_address(
    portal: dict[str, t.Any],
) -> None:
    call("resource_create", {"package_id": "sunspots", "url": "https://example.org/y.json"})
    model.Session.remove()
    assert _resources("sunspots")[-1]["format"] == "JSON"


def test_the_resource_page_shows_size_format_type_dates_and_download(
    client: FlaskClient, portal: dict[str, t.Any]
) -> None:
    log_in(client, "editor")
    _upload(client, "tides.csv", b"hour,height\n" + b"0,1.2\n" * 400, name="Tides")
    res = next(r for r in _resources("sunspots") if r["name"] == "Tides")
    html = client.get(f"/dataset/sunspots/resource/{res['id']}").get_data(as_text=True)
    assert _row(html, "Format") == "CSV"
    assert _row(html, "Media type") == "text/csv"
    size = _row(html, "Size")
    assert "2.4 kB" in size and "2,412 bytes" in size
    assert res["created"][:16].replace("T", " ") in _row(html, "Created")
    assert "UTC" in _row(html, "Last modified")
    download = f'href="/dataset/sunspots/resource/{res["id"]}/download"'
    assert download in html
    assert "Download CSV" in html
    assert client.get(f"/dataset/sunspots/resource/{res['id']}/download").status_code == 200
