"""The data explorer on a resource page and the table's dump, on both databases:
rows with column types, paging, sort, column filters, full-text search, the
Data API box, streamed CSV/JSON dumps, estimated totals, and bad input as a
message rather than an error page."""

from __future__ import annotations

import csv
import html as html_lib
import io
import json
import re
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa

from heliograph import model
from tests.ext.datastore.datastore_helpers import Call

ROWS = 120


@pytest.fixture
def client(db: sa.Engine, datastore_url: str, tmp_path: Path) -> t.Any:
    from heliograph.web import make_app

    app = make_app(
        {
            "sqlalchemy.url": db.url.render_as_string(hide_password=False),
            "heliograph.instance_path": str(tmp_path / "web"),
            "heliograph.plugins": "datastore",
            "heliograph.datastore.url": datastore_url,
            "heliograph.site_url": "http://portal.test",
        }
    )
    return app.test_client()


@pytest.fixture
def loaded(call: Call, rid: str) -> str:
    """``rid`` with ROWS rows: station (text), n (int), level (float), day (date)."""
    records = [
        {
            "station": "Brest" if n % 3 == 0 else ("Dover" if n % 3 == 1 else "Calais"),
            "n": n,
            "level": n / 4,
            "day": f"2024-01-{n % 28 + 1:02d}",
        }
        for n in range(ROWS)
    ]
    records[7]["station"] = "Saint-Malo harbour"
    call(
        "datastore_create",
        {
            "resource_id": rid,
            "fields": [
                {"id": "station", "type": "text"},
                {"id": "n", "type": "int"},
                {"id": "level", "type": "float"},
                {"id": "day", "type": "date"},
            ],
            "records": records,
        },
        user="editor",
    )
    model.Session.remove()
    return rid


def _page(client: t.Any, rid: str, query: str = "") -> str:
    response = client.get(f"/dataset/sunspots/resource/{rid}{query}")
    assert response.status_code == 200, response.status_code
    return t.cast(str, response.get_data(as_text=True))


def _cells(html: str, column: int) -> list[str]:
    """The text of column ``column`` (0 = _id) of the explorer's rows."""
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", row[column])) for row in cells]


def _headers(html: str) -> list[tuple[str, str]]:
    head = html[html.index("<thead>") : html.index("</thead>")]
    found = re.findall(r'title="Sort by ([^"]+)".*?<small class="type">([^<]+)</small>', head, re.S)
    return [(name, kind) for name, kind in found]


def test_the_first_rows_show_with_their_column_types(client: t.Any, loaded: str) -> None:
    html = _page(client, loaded)
    assert 'id="explorer"' in html
    assert _headers(html) == [
        ("_id", "int"),
        ("station", "text"),
        ("n", "int"),
        ("level", "float"),
        ("day", "date"),
    ]
    assert _cells(html, 2)[:3] == ["0", "1", "2"]
    assert len(_cells(html, 0)) == 50
    assert "Rows 1 to 50 of" in html and '<span class="total">120</span>' in html
    assert 'rel="next"' in html and 'rel="prev"' not in html


def test_paging_goes_through_every_row_once(client: t.Any, loaded: str) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        html = _page(client, loaded, f"?page={page}")
        seen += _cells(html, 2)
    assert seen == [str(n) for n in range(ROWS)]
    assert 'rel="next"' not in html
    assert "Rows 101 to 120" in html


def test_sorting_by_a_column_both_ways(client: t.Any, loaded: str) -> None:
    html = _page(client, loaded, "?sort=level&order=desc")
    assert _cells(html, 3)[:2] == ["29.75", "29.5"]
    assert 'aria-sort="descending"' in html
    ascending = _page(client, loaded, "?sort=station&order=asc")
    stations = _cells(ascending, 1)
    assert stations == sorted(stations)


def test_filtering_by_column_values_and_removing_the_filter(client: t.Any, loaded: str) -> None:
    html = _page(client, loaded, "?filter_field=station&filter_value=Brest")
    assert set(_cells(html, 1)) == {"Brest"}
    assert '<span class="total">40</span>' in html
    both = _page(
        client,
        loaded,
        "?filter_field=station&filter_value=Brest&filter_field=n&filter_value=3",
    )
    assert _cells(both, 2) == ["3"]
    remove = re.search(r'<a href="([^"]+)" aria-label="Remove the filter on n">', both)
    assert remove
    back = _page(client, loaded, html_lib.unescape(remove.group(1)).split("#")[0])
    assert '<span class="total">40</span>' in back


def test_full_text_search_finds_a_word_in_any_column(client: t.Any, loaded: str) -> None:
    html = _page(client, loaded, "?q=harbour")
    assert _cells(html, 1) == ["Saint-Malo harbour"]


def test_bad_input_is_a_message_in_the_explorer_not_an_error_page(
    client: t.Any, loaded: str
) -> None:
    html = _page(client, loaded, "?sort=nope")
    assert 'class="error" role="alert"' in html
    assert "Sort" in html and "nope" in html
    html = _page(client, loaded, "?filter_field=n&filter_value=twelve")
    assert 'class="error" role="alert"' in html and "twelve" in html
    assert "<select" in html  # the form is still there to correct it
    assert "Rows" in _page(client, loaded, "?page=zero")


def test_the_data_api_box_shows_the_datastore_search_call(client: t.Any, loaded: str) -> None:
    html = html_lib.unescape(_page(client, loaded, "?filter_field=station&filter_value=Brest"))
    assert "http://portal.test/api/3/action/datastore_search?resource_id=" + loaded in html
    match = re.search(r"curl -H 'Content-Type: application/json' -d '(\{.*?\})' ([^\s<]+)<", html)
    assert match and match.group(2) == "http://portal.test/api/3/action/datastore_search"
    body = json.loads(match.group(1))
    assert body["filters"] == {"station": "Brest"}
    answer = client.post("/api/3/action/datastore_search", json=body).get_json()
    assert answer["success"] and len(answer["result"]["records"]) == 5
    assert {r["station"] for r in answer["result"]["records"]} == {"Brest"}


def test_the_whole_table_downloads_as_csv_and_json(client: t.Any, loaded: str) -> None:
    html = _page(client, loaded)
    assert f'href="/datastore/dump/{loaded}?format=csv"' in html
    response = client.get(f"/datastore/dump/{loaded}?format=csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["station", "n", "level", "day"]
    assert len(rows) == ROWS + 1
    assert rows[8] == ["Saint-Malo harbour", "7", "1.75", "2024-01-08"]
    answer = client.get(f"/datastore/dump/{loaded}?format=json")
    assert answer.is_streamed
    dumped = json.loads(answer.get_data(as_text=True))
    assert [f["id"] for f in dumped["fields"]] == ["station", "n", "level", "day"]
    assert dumped["records"][7] == ["Saint-Malo harbour", 7, 1.75, "2024-01-08"]
    assert len(dumped["records"]) == ROWS


def test_the_dump_answers_bad_requests_with_pages_not_500s(
    client: t.Any, loaded: str, readonly_rid: str
) -> None:
    assert client.get(f"/datastore/dump/{loaded}?format=xls").status_code == 400
    assert client.get(f"/datastore/dump/{readonly_rid}").status_code == 404
    assert client.get("/datastore/dump/no-such-resource").status_code == 404


def test_a_private_table_is_neither_shown_nor_dumped_to_outsiders(
    client: t.Any, call: Call, private_store_dataset: dict[str, t.Any]
) -> None:
    rid = private_store_dataset["resources"][0]["id"]
    call(
        "datastore_create",
        {"resource_id": rid, "fields": [{"id": "a", "type": "int"}], "records": [{"a": 1}]},
        user="editor",
    )
    model.Session.remove()
    assert client.get(f"/datastore/dump/{rid}").status_code == 403
    assert client.get(f"/dataset/flares/resource/{rid}").status_code == 403


def test_a_resource_outside_the_datastore_has_no_explorer(client: t.Any, rid: str) -> None:
    assert 'id="explorer"' not in _page(client, rid)


def test_a_large_total_is_estimated_on_postgresql_and_counted_on_sqlite(
    call: Call, loaded: str, db: sa.Engine
) -> None:
    found = call(
        "datastore_search",
        {"resource_id": loaded, "limit": 1, "total_estimation_threshold": 10},
    )
    if db.dialect.name == "sqlite":
        assert (found["total"], found["total_was_estimated"]) == (ROWS, False)
    else:
        assert found["total_was_estimated"] is True
        assert found["total"] >= 10
    exact = call(
        "datastore_search",
        {"resource_id": loaded, "limit": 1, "total_estimation_threshold": 10**9},
    )
    assert (exact["total"], exact["total_was_estimated"]) == (ROWS, False)
    with pytest.raises(Exception, match="natural number"):
        call("datastore_search", {"resource_id": loaded, "total_estimation_threshold": -1})
