"""``heliograph datastore load`` and ``heliograph datastore dump``.

Offered to the ``heliograph`` command through ``IClick``. Both build the
portal from the configuration (``--config`` or ``$HELIOGRAPH_CONFIG``) and
act as the site (no auth check), as CKAN's command line does.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import sys
import time
import typing as t

import click

import heliograph.plugins as p
import heliograph.plugins.toolkit as tk
from heliograph.ext.datastore import backend as be
from heliograph.ext.datastore import types as ty

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="HELIOGRAPH_CONFIG",
    default=None,
    help="Configuration file (INI or TOML); also $HELIOGRAPH_CONFIG.",
)


def _portal(config_file: str | None) -> None:
    try:
        tk.make_app(tk.load_config(config_file))
    except tk.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not p.plugin_loaded("datastore"):
        p.load("datastore")


def _site() -> dict[str, t.Any]:
    return {"ignore_auth": True, "user": None}


def _errors(exc: Exception) -> str:
    error_dict = getattr(exc, "error_dict", None)
    return json.dumps(error_dict) if error_dict else (str(exc) or type(exc).__name__)


@click.group("datastore")
def datastore() -> None:
    """Load CSV into a resource's datastore table, or dump it as CSV."""


@datastore.command("load")
@click.argument("resource_id")
@click.argument("csv_file", metavar="FILE.csv", type=click.Path(exists=True, dir_okay=False))
@click.option("--batch-size", default=10_000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option(
    "--method",
    type=click.Choice(["insert", "upsert"]),
    default="insert",
    show_default=True,
    help="upsert replaces rows with the same primary key.",
)
@click.option("--primary-key", default=None, help="Fields of the key (comma-separated), new table.")
@click.option(
    "--guess-types/--all-text",
    default=False,
    help="For a new table, guess column types from the first row (default: all text).",
)
@click.option(
    "--encoding",
    default="utf-8",
    show_default=True,
    help="Text encoding of the file, e.g. latin-1 or cp1252 (a UTF-8 BOM is skipped).",
)
@click.option(
    "--from-line",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Skip the records that start before this line (resume a failed load).",
)
@config_option
def load_command(
    resource_id: str,
    csv_file: str,
    batch_size: int,
    method: str,
    primary_key: str | None,
    guess_types: bool,
    encoding: str,
    from_line: int,
    config_file: str | None,
) -> None:
    """Stream FILE.csv (header row first) into the table of RESOURCE_ID, in batches.

    The table is created from the header when it does not exist. Each batch is
    one datastore_upsert call, so a failed load has loaded exactly the batches
    before the one that failed: the error names the file's line and column
    and gives the --from-line that resumes the load once the file is fixed.
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise click.BadParameter(
            f"unknown encoding {encoding!r}", param_hint="--encoding"
        ) from None
    _portal(config_file)
    _require_resource(resource_id)
    source = _Lines(csv_file, encoding)
    started = time.perf_counter()
    loader = _Loader(resource_id, csv_file, method, from_line)
    try:
        reader = csv.reader(source)
        header = next(reader, None)
        if not header:
            raise click.ClickException(f"{csv_file} is empty: expected a header row")
        loader.header = [name.strip() for name in header]
        records = _records(reader, source, from_line)
        first = next(records, None)
        _ensure_table(
            resource_id, loader.header, first[1] if first else None, primary_key, guess_types
        )
        size = os.path.getsize(csv_file)
        with click.progressbar(length=size, label=f"loading {csv_file}", file=sys.stderr) as bar:
            batch: list[tuple[int, list[str]]] = [] if first is None else [first]
            for record in records:
                if len(batch) >= batch_size:
                    loader.load(batch)
                    bar.update(source.position - bar.pos)
                    batch = []
                batch.append(record)
            loader.load(batch)
            bar.update(size - bar.pos)
    except UnicodeDecodeError as exc:
        raise click.ClickException(
            f"{csv_file}, line {source.line}: the bytes are not valid {encoding} ({exc.reason}); "
            "give the file's encoding with --encoding, e.g. --encoding latin-1"
            f"{loader.so_far()}"
        ) from None
    except csv.Error as exc:
        raise click.ClickException(
            f"{csv_file}, line {source.line}: not valid CSV ({exc}){loader.so_far()}"
        ) from None
    elapsed = time.perf_counter() - started
    rate = loader.loaded / elapsed if elapsed > 0 else 0.0
    click.echo(
        f"loaded {loader.loaded} rows into {resource_id} in {loader.batches} batches "
        f"({elapsed:.1f} s, {rate:,.0f} rows/s)"
    )


class _Lines:
    """The file's lines decoded one at a time, counting lines and bytes, so an
    encoding error names its line."""

    def __init__(self, path: str, encoding: str) -> None:
        self.path = path
        self.encoding = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
        self.line = 0
        self.position = 0

    def __iter__(self) -> t.Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        with open(self.path, "rb") as raw:
            for chunk in raw:
                self.line += 1
                self.position += len(chunk)
                yield decoder.decode(chunk)
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail


def _records(reader: t.Any, source: _Lines, from_line: int) -> t.Iterator[tuple[int, list[str]]]:
    """``(first line, values)`` of each record (a quoted value may span lines),
    from ``from_line`` on."""
    start = source.line + 1
    for row in reader:
        if start >= from_line:
            yield start, row
        start = source.line + 1


_FIELD_ERROR = re.compile(r'^row "\d+": field "(?P<field>[^"]*)": (?P<message>.*)$', re.S)
_ROW_ERROR = re.compile(r'^row "\d+":? (?P<message>.*)$', re.S)


class _Loader:
    """Writes batches through ``datastore_upsert`` and words their errors."""

    def __init__(self, resource_id: str, csv_file: str, method: str, from_line: int) -> None:
        self.resource_id = resource_id
        self.csv_file = csv_file
        self.method = method
        self.from_line = from_line
        self.header: list[str] = []
        self.loaded = 0
        self.batches = 0
        self.next_line = from_line

    def so_far(self) -> str:
        """What is loaded, and how to go on, for an error message."""
        if not self.loaded:
            return "; nothing of this run was loaded"
        return (
            f"; the {self.loaded} rows before line {self.next_line} were loaded "
            f"({self.batches} batches) and stay: fix the file and resume with "
            f"--from-line {self.next_line}"
        )

    def load(self, batch: list[tuple[int, list[str]]]) -> None:
        if not batch:
            return
        records = []
        for line, row in batch:
            if len(row) != len(self.header):
                raise click.ClickException(
                    f"{self.csv_file}, line {line}: {len(row)} values for "
                    f"{len(self.header)} columns{self.so_far()}"
                )
            records.append(dict(zip(self.header, row, strict=True)))
        try:
            tk.get_action("datastore_upsert")(
                _site(),
                {
                    "resource_id": self.resource_id,
                    "records": records,
                    "method": self.method,
                    "force": True,
                },
            )
        except (tk.ValidationError, tk.ObjectNotFound) as exc:
            raise click.ClickException(
                f"{self.csv_file}, {self._describe(exc, batch)}{self.so_far()}"
            ) from None
        self.loaded += len(records)
        self.batches += 1
        self.next_line = batch[-1][0] + 1

    def _describe(self, exc: Exception, batch: list[tuple[int, list[str]]]) -> str:
        """The error in words, at the file's line (and column) it is about."""
        error_dict = getattr(exc, "error_dict", None) or {}
        row = error_dict.get("records_row")
        messages = error_dict.get("records")
        if isinstance(row, int) and 1 <= row <= len(batch) and isinstance(messages, list):
            line = batch[row - 1][0]
            text = str(messages[0]) if messages else "the row was refused"
            match = _FIELD_ERROR.match(text)
            if match:
                return f'line {line}, column "{match["field"]}": {match["message"]}'
            match = _ROW_ERROR.match(text)
            return f"line {line}: {match['message'] if match else text}"
        return f"lines {batch[0][0]} to {batch[-1][0]}: {_errors(exc)}"


def _require_resource(resource_id: str) -> None:
    """A ClickException, worded as the API's, unless the resource exists."""
    try:
        tk.get_action("resource_show")(_site(), {"id": resource_id})
    except tk.ObjectNotFound:
        raise click.ClickException(f'Not found: Resource "{resource_id}" was not found.') from None
    except tk.ValidationError as exc:
        raise click.ClickException(_errors(exc)) from None


def _guess(value: str) -> str | None:
    """The column type of ``value``: as the datastore guesses, except that a
    plain date (``2024-05-01``) is a ``date``, not a ``timestamp``."""
    guessed = ty.guess_type(value)
    if guessed == "timestamp" and _DATE.fullmatch(value.strip()):
        return "date"
    return guessed


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _ensure_table(
    resource_id: str,
    header: list[str],
    first: list[str] | None,
    primary_key: str | None,
    guess_types: bool,
) -> None:
    try:
        tk.get_action("datastore_info")(_site(), {"id": resource_id})
        return
    except tk.ObjectNotFound:
        pass
    except tk.ValidationError as exc:
        raise click.ClickException(_errors(exc)) from None
    fields: list[dict[str, t.Any]] = []
    for position, name in enumerate(header):
        value = first[position] if first is not None and position < len(first) else None
        guessed = _guess(value) if guess_types and value not in (None, "") else None
        fields.append({"id": name, "type": guessed or "text"})
    data: dict[str, t.Any] = {"resource_id": resource_id, "fields": fields, "force": True}
    if primary_key:
        data["primary_key"] = [name.strip() for name in primary_key.split(",")]
    try:
        tk.get_action("datastore_create")(_site(), data)
    except (tk.ValidationError, tk.ObjectNotFound) as exc:
        raise click.ClickException(
            f"cannot create the table of {resource_id}: {_errors(exc)}"
        ) from None


def _cell(value: t.Any) -> t.Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


@datastore.command("dump")
@click.argument("resource_id")
@config_option
def dump_command(resource_id: str, config_file: str | None) -> None:
    """Write the table of RESOURCE_ID as CSV (header row first) to standard output."""
    _portal(config_file)
    out = sys.stdout
    writer = csv.writer(out, lineterminator="\n")
    try:
        for row in be.get_backend().dump(resource_id):
            writer.writerow([_cell(v) for v in row])
    except tk.ObjectNotFound as exc:
        raise click.ClickException(str(exc)) from None
