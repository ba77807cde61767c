"""``heliograph datastore load`` / ``dump`` (offered through IClick), and the
actions over HTTP."""

from __future__ import annotations

import csv
import io
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from heliograph.cli import main

Call = t.Callable[..., t.Any]


@pytest.fixture
def config_file(db: sa.Engine, datastore_url: str, tmp_path: Path) -> Path:
    path = tmp_path / "portal.ini"
    path.write_text(
        "[app:main]\n"
        f"sqlalchemy.url = {db.url.render_as_string(hide_password=False)}\n"
        f"heliograph.instance_path = {tmp_path / 'instance'}\n"
        f"heliograph.datastore.url = {datastore_url}\n"
        "heliograph.plugins =\n",
        encoding="utf-8",
    )
    return path


def run(config_file: Path, *args: str) -> t.Any:
    return CliRunner().invoke(main, [*args, "--config", str(config_file)])


def write_csv(path: Path, rows: list[list[t.Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def test_the_datastore_commands_are_offered_through_iclick() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert "datastore" in result.output
    result = CliRunner().invoke(main, ["datastore", "--help"])
    assert result.exit_code == 0
    assert "load" in result.output and "dump" in result.output


def test_load_creates_the_table_in_batches_and_dump_writes_it_back(
    call: Call, rid: str, config_file: Path, tmp_path: Path
) -> None:
    rows = [["station", "name", "reading"]] + [[i, f"s{i}", i / 4] for i in range(1, 26)]
    source = write_csv(tmp_path / "in.csv", rows)
    result = run(
        config_file,
        "datastore",
        "load",
        rid,
        str(source),
        "--batch-size",
        "10",
        "--guess-types",
        "--primary-key",
        "station",
    )
    assert result.exit_code == 0, result.output
    assert "loaded 25 rows" in result.output and "in 3 batches" in result.output
    found = call("datastore_search", {"resource_id": rid, "limit": 100})
    assert found["total"] == 25
    types = {f["id"]: f["type"] for f in found["fields"]}
    assert types == {"_id": "int", "station": "int", "name": "text", "reading": "numeric"}

    result = run(config_file, "datastore", "dump", rid)
    assert result.exit_code == 0, result.output
    dumped = list(csv.reader(io.StringIO(result.stdout)))
    assert dumped[0] == ["station", "name", "reading"]
    assert dumped[1] == ["1", "s1", "0.25"]
    assert len(dumped) == 26


def test_load_into_an_existing_table_upserts(
    call: Call, table: str, config_file: Path, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "in.csv", [["id", "name"], [1, "renamed"], [7, "seven"]])
    result = run(config_file, "datastore", "load", table, str(source), "--method", "upsert")
    assert result.exit_code == 0, result.output
    found = call("datastore_search", {"resource_id": table, "sort": "id"})
    assert [(r["id"], r["name"]) for r in found["records"]][::3] == [(1, "renamed"), (7, "seven")]


def test_a_bad_batch_stops_the_load_with_a_summary(
    call: Call, table: str, config_file: Path, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "in.csv", [["id", "name"], [10, "a"], [11, "b"], ["twelve", "c"]])
    result = run(config_file, "datastore", "load", table, str(source), "--batch-size", "2")
    assert result.exit_code == 1
    assert "line 4" in result.output and "2 rows before line 4 were loaded" in result.output
    assert "twelve" in result.output
    assert call("datastore_search", {"resource_id": table})["total"] == 5


def test_dump_of_a_missing_table_fails_cleanly(config_file: Path, rid: str) -> None:
    result = run(config_file, "datastore", "dump", rid)
    assert result.exit_code == 1
    assert "was not found" in result.output


# -- over HTTP -----------------------------------------------------------------------


@pytest.fixture
def client(db: sa.Engine, datastore_url: str, tmp_path: Path) -> t.Any:
    from heliograph.web import make_app

    app = make_app(
        {
            "sqlalchemy.url": db.url.render_as_string(hide_password=False),
            "heliograph.instance_path": str(tmp_path / "web"),
            "heliograph.plugins": "datastore",
            "heliograph.datastore.url": datastore_url,
        }
    )
    return app.test_client()


def test_http_write_with_a_token_then_read_anonymously_with_get(
    call: Call, rid: str, client: t.Any
) -> None:
    token = call("api_token_create", {"user": "editor", "name": "t"}, user="editor")["token"]
    response = client.post(
        "/api/3/action/datastore_create",
        json={"resource_id": rid, "fields": [{"id": "a", "type": "int"}], "primary_key": "a"},
        headers={"Authorization": token},
    )
    assert response.status_code == 200, response.json
    response = client.post(
        "/api/3/action/datastore_upsert",
        json={"resource_id": rid, "records": [{"a": 1}, {"a": 2}]},
        headers={"Authorization": token},
    )
    assert response.json["success"] is True
    response = client.get(
        f"/api/3/action/datastore_search?resource_id={rid}&filters=%7B%22a%22%3A2%7D&limit=5"
    )
    assert response.status_code == 200
    assert response.json["result"]["records"] == [{"_id": 2, "a": 2}]


def test_http_errors_are_envelopes_not_500s(call: Call, table: str, client: t.Any) -> None:
    response = client.get(f"/api/3/action/datastore_search?resource_id={table}&sort=nope")
    assert response.status_code == 409
    assert response.json["error"] == {
        "__type": "Validation Error",
        "sort": ['invalid value "nope"'],
    }
    response = client.post(
        "/api/3/action/datastore_upsert", json={"resource_id": table, "records": []}
    )
    assert response.status_code == 403
    response = client.get("/api/3/action/datastore_info?id=no-such-thing")
    assert response.status_code == 404
    response = client.get(f"/api/3/action/datastore_upsert?resource_id={table}")
    assert response.status_code == 400
