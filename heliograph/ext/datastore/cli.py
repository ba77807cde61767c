"""``heliograph datastore load`` and ``heliograph datastore dump``.

Offered to the ``heliograph`` command through ``IClick``. Both build the
portal from the configuration (``--config`` or ``$HELIOGRAPH_CONFIG``) and
act as the site (no auth check), as CKAN's command line does.
"""

from __future__ import annotations

import csv
import io
import json
import os
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
@config_option
def load_command(
    resource_id: str,
    csv_file: str,
    batch_size: int,
    method: str,
    primary_key: str | None,
    guess_types: bool,
    config_file: str | None,
) -> None:
    """Stream FILE.csv (header row first) into the table of RESOURCE_ID, in batches.

    The table is created from the header when it does not exist. Each batch is
    one datastore_upsert call: when one fails, the batches before it stay.
    """
    _portal(config_file)
    upsert = tk.get_action("datastore_upsert")
    started = time.perf_counter()
    loaded = batches = 0
    with (
        open(csv_file, "rb") as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as fh,
    ):
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            raise click.ClickException(f"{csv_file} is empty: expected a header row")
        header = [name.strip() for name in header]
        first = next(reader, None)
        _ensure_table(resource_id, header, first, primary_key, guess_types)
        size = os.path.getsize(csv_file)
        with click.progressbar(length=size, label=f"loading {csv_file}", file=sys.stderr) as bar:
            rows = [] if first is None else [first]
            line = 2

            def flush() -> None:
                nonlocal loaded, batches
                if not rows:
                    return
                records = []
                for offset, row in enumerate(rows):
                    if len(row) != len(header):
                        raise click.ClickException(
                            f"{csv_file}, line {line - len(rows) + offset}: {len(row)} values "
                            f"for {len(header)} columns; {loaded} rows were loaded before it"
                        )
                    records.append(dict(zip(header, row, strict=True)))
                try:
                    upsert(
                        _site(),
                        {
                            "resource_id": resource_id,
                            "records": records,
                            "method": method,
                            "force": True,
                        },
                    )
                except (tk.ValidationError, tk.ObjectNotFound) as exc:
                    raise click.ClickException(
                        f"the batch starting at line {line - len(rows)} of {csv_file} "
                        f"failed: {_errors(exc)}; {loaded} rows were loaded before it"
                    ) from None
                loaded += len(records)
                batches += 1
                rows.clear()
                bar.update(raw.tell() - bar.pos)

            for row in reader:
                if len(rows) >= batch_size:
                    flush()
                rows.append(row)
                line += 1
            line += 1
            flush()
            bar.update(size - bar.pos)
    elapsed = time.perf_counter() - started
    rate = loaded / elapsed if elapsed > 0 else 0.0
    click.echo(
        f"loaded {loaded} rows into {resource_id} in {batches} batches "
        f"({elapsed:.1f} s, {rate:,.0f} rows/s)"
    )


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
        guessed = ty.guess_type(value) if guess_types and value not in (None, "") else None
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
