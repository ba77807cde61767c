"""``heliograph datastore load``: errors name the file's line and column in
words, a failed load says what stays and resumes, encodings are an option."""

from __future__ import annotations

import csv
import typing as t
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from heliograph.cli import main
from heliograph.ext.datastore import backend

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


def load(config_file: Path, *args: str) -> t.Any:
    return CliRunner().invoke(main, ["datastore", "load", *args, "--config", str(config_file)])


def write_csv(path: Path, rows: list[list[t.Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        csv.writer(fh).writerows(rows)
    return path


def has_table(resource_id: str) -> bool:
    store = backend.get_backend()
    with store.connect(read_only=True) as conn:
        return store.table(conn, resource_id) is not None


def test_an_unknown_resource_is_not_found_and_gets_no_table(
    config_file: Path, tmp_path: Path, db: t.Any
) -> None:
    source = write_csv(tmp_path / "in.csv", [["a"], ["1"]])
    missing = "0f0f0f0f-0000-4000-8000-000000000000"
    result = load(config_file, missing, str(source))
    assert result.exit_code == 1
    assert f'Not found: Resource "{missing}" was not found.' in result.output
    assert not has_table(missing)


def test_a_latin_1_file_names_the_line_and_the_encoding_option(
    call: Call, rid: str, config_file: Path, tmp_path: Path
) -> None:
    rows = [["name"], ["plain"], ["also plain"], ["Café"]]
    source = write_csv(tmp_path / "latin.csv", rows, encoding="latin-1")
    result = load(config_file, rid, str(source))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "line 4" in result.output and "--encoding" in result.output
    assert "Traceback" not in result.output and "UnicodeDecodeError" not in result.output

    result = load(config_file, rid, str(source), "--encoding", "latin-1")
    assert result.exit_code == 0, result.output
    found = call("datastore_search", {"resource_id": rid, "sort": "_id"})
    assert [r["name"] for r in found["records"]] == ["plain", "also plain", "Café"]


def test_a_bad_value_names_the_files_line_and_column_in_every_batch(
    call: Call, rid: str, config_file: Path, tmp_path: Path
) -> None:
    call(
        "datastore_create",
        {"resource_id": rid, "fields": [{"id": "n", "type": "int"}, {"id": "s", "type": "text"}]},
        user="editor",
    )
    #        line: 1           2         3         4             5         6         7
    rows = [["n", "s"], [1, "a"], [2, "b"], ["three", "c"], [4, "d"], [5, "e"], [6, "f"]]
    source = write_csv(tmp_path / "in.csv", rows)
    result = load(config_file, rid, str(source), "--batch-size", "2")
    assert result.exit_code == 1
    assert 'line 4, column "n":' in result.output
    assert "three" in result.output
    assert "{" not in result.output and "records_row" not in result.output
    assert "the 2 rows before line 4 were loaded" in result.output
    assert "--from-line 4" in result.output

    # the file fixed, the load resumes where it stopped: every row once
    rows[3] = [3, "c"]
    write_csv(source, rows)
    result = load(config_file, rid, str(source), "--batch-size", "2", "--from-line", "4")
    assert result.exit_code == 0, result.output
    found = call("datastore_search", {"resource_id": rid, "sort": "_id", "limit": 100})
    assert [(r["n"], r["s"]) for r in found["records"]] == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
        (4, "d"),
        (5, "e"),
        (6, "f"),
    ]


def test_a_short_row_in_a_middle_batch_names_its_own_line(
    rid: str, config_file: Path, tmp_path: Path
) -> None:
    rows: list[list[t.Any]] = [["a", "b"]] + [[i, i] for i in range(1, 7)]
    rows[4] = [4]  # line 5, in the second of three batches
    source = write_csv(tmp_path / "in.csv", rows)
    result = load(config_file, rid, str(source), "--batch-size", "2")
    assert result.exit_code == 1
    assert "line 5: 1 values for 2 columns" in result.output
    assert "the 2 rows before line 4 were loaded" in result.output


def test_quoted_values_over_several_lines_keep_the_line_numbers(
    call: Call, rid: str, config_file: Path, tmp_path: Path
) -> None:
    call(
        "datastore_create",
        {"resource_id": rid, "fields": [{"id": "n", "type": "int"}, {"id": "s", "type": "text"}]},
        user="editor",
    )
    source = tmp_path / "in.csv"
    source.write_text('n,s\n1,"two\nlines"\nx,after\n', encoding="utf-8")
    result = load(config_file, rid, str(source))
    assert result.exit_code == 1
    assert 'line 4, column "n":' in result.output


def test_guessed_dates_are_dates_and_date_times_timestamps(
    call: Call, rid: str, config_file: Path, tmp_path: Path
) -> None:
    rows = [["day", "seen", "n"], ["2024-05-01", "2024-05-01T12:00:00", "7"]]
    source = write_csv(tmp_path / "in.csv", rows)
    result = load(config_file, rid, str(source), "--guess-types")
    assert result.exit_code == 0, result.output
    found = call("datastore_search", {"resource_id": rid})
    types = {f["id"]: f["type"] for f in found["fields"]}
    assert types == {"_id": "int", "day": "date", "seen": "timestamp", "n": "int"}
    assert found["records"][0]["day"] == "2024-05-01"
