"""Datastore benchmark: ``datastore_upsert`` throughput against the engine's raw path.

Run it with ``.venv/bin/python bench/datastore.py`` (``--quick`` for a rough
look, ``--check`` to exit 1 when a target is missed, ``--engine sqlite`` or
``--engine postgresql`` for one engine). For each engine it prints rows per
second for batches of 10,000 rows and the ratio of two figures measured in
this process and this run:

- the action: ``datastore_upsert`` (method ``upsert``, by primary key) called
  through the action registry as a dataset editor, so it pays for the auth
  check, the read-only check, validating and converting every value, the
  transaction and the signal;
- the raw path: the same rows, already as typed tuples, written into a twin
  table of the same schema (same columns, same unique key) with the engine's
  fastest path: ``executemany`` of one INSERT on SQLite, binary ``COPY`` on
  PostgreSQL (faster than text COPY), in one transaction per batch.

Target: the action reaches at least 50% of the raw figure on both engines.
Every batch has new keys, so both sides insert 10,000 rows into a growing
table. Rounds are interleaved (action, raw, action, raw...), so a slow spell
of the machine hits both; a contender's figure is its best round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import typing as t
import uuid
from dataclasses import dataclass

import sqlalchemy as sa

BATCH = 10_000
TARGET = 0.5
POSTGRES_URL = os.environ.get(
    "HELIOGRAPH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
FIELDS = [
    {"id": "station", "type": "int"},
    {"id": "name", "type": "text"},
    {"id": "reading", "type": "float"},
    {"id": "day", "type": "date"},
    {"id": "valid", "type": "bool"},
]


@dataclass
class Result:
    engine: str
    action_rows_per_s: float
    raw_rows_per_s: float

    @property
    def ratio(self) -> float:
        return self.action_rows_per_s / self.raw_rows_per_s

    @property
    def passed(self) -> bool:
        return self.ratio >= TARGET


def _records(start: int, n: int) -> list[dict[str, t.Any]]:
    base = dt.date(2024, 1, 1)
    return [
        {
            "station": i,
            "name": f"station {i} on the ridge",
            "reading": i * 0.25,
            "day": (base + dt.timedelta(days=i % 365)).isoformat(),
            "valid": i % 3 != 0,
        }
        for i in range(start, start + n)
    ]


def _portal(instance: str, datastore_url: str) -> tuple[str, str, str]:
    """A portal with an editor, a dataset and two datastore resources (action, raw)."""
    from heliograph import logic, model
    from heliograph.logic import users
    from heliograph.web import make_app

    make_app(
        {
            "heliograph.instance_path": instance,
            "heliograph.plugins": "datastore",
            "heliograph.datastore.url": datastore_url,
        }
    )
    session = model.Session()
    users.create_user(session, name="editor", email="editor@example.org", password=None)
    session.commit()

    def call(name: str, data: dict[str, t.Any]) -> t.Any:
        return logic.get_action(name)({"user": "editor"}, data)

    org = call("organization_create", {"name": "bench-org"})
    dataset = call(
        "package_create",
        {
            "name": "bench",
            "owner_org": org["id"],
            "resources": [
                {"url": "http://x.test/a", "url_type": "datastore"},
                {"url": "http://x.test/b", "url_type": "datastore"},
            ],
        },
    )
    action_id, raw_id = (r["id"] for r in dataset["resources"])
    for rid in (action_id, raw_id):
        call("datastore_create", {"resource_id": rid, "fields": FIELDS, "primary_key": "station"})
    return "editor", action_id, raw_id


def _raw_writer(engine: sa.Engine, table: str) -> t.Callable[[list[tuple[t.Any, ...]]], None]:
    cols = ", ".join(f'"{f["id"]}"' for f in FIELDS)
    if engine.dialect.name == "sqlite":
        sql = f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join("?" * len(FIELDS))})'

        def write_sqlite(rows: list[tuple[t.Any, ...]]) -> None:
            with engine.begin() as conn:
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.cursor().executemany(sql, rows)

        return write_sqlite

    def write_copy(rows: list[tuple[t.Any, ...]]) -> None:
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            with (
                raw.cursor() as cur,
                cur.copy(f'COPY "{table}" ({cols}) FROM STDIN (FORMAT BINARY)') as copy,
            ):
                copy.set_types(["int8", "text", "float8", "date", "bool"])
                for row in rows:
                    copy.write_row(row)

    return write_copy


def _typed(records: list[dict[str, t.Any]], sqlite: bool) -> list[tuple[t.Any, ...]]:
    rows = []
    for r in records:
        day: t.Any = r["day"] if sqlite else dt.date.fromisoformat(r["day"])
        valid: t.Any = int(r["valid"]) if sqlite else r["valid"]
        rows.append((r["station"], r["name"], r["reading"], day, valid))
    return rows


def bench_engine(name: str, datastore_url: str, rounds: int) -> Result:
    from heliograph import logic
    from heliograph.ext.datastore import backend

    with tempfile.TemporaryDirectory() as instance:
        user, action_id, raw_id = _portal(instance, datastore_url)
        engine = backend.get_backend(datastore_url).engine
        sqlite = engine.dialect.name == "sqlite"
        upsert = logic.get_action("datastore_upsert")
        raw_write = _raw_writer(engine, raw_id)
        best_action = best_raw = float("inf")
        for round_ in range(rounds):
            records = _records(round_ * BATCH, BATCH)
            rows = _typed(records, sqlite)
            started = time.perf_counter()
            upsert({"user": user}, {"resource_id": action_id, "records": records})
            best_action = min(best_action, time.perf_counter() - started)
            started = time.perf_counter()
            raw_write(rows)
            best_raw = min(best_raw, time.perf_counter() - started)
        backend.dispose_all()
    return Result(name, BATCH / best_action, BATCH / best_raw)


def _postgres_schema() -> tuple[str, t.Callable[[], None]]:
    schema = f"hg_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(admin.url).update_query_dict({"options": f"-csearch_path={schema}"})

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def run(engines: list[str], rounds: int) -> list[Result]:
    results = []
    for name in engines:
        if name == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                results.append(bench_engine(name, f"sqlite:///{folder}/datastore.db", rounds))
        else:
            url, drop = _postgres_schema()
            try:
                results.append(bench_engine(name, url, rounds))
            finally:
                drop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="datastore_upsert against the raw path")
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    results = run(engines, 3 if args.quick else args.rounds)
    print(f"datastore_upsert, batches of {BATCH:,} rows (best round of each)")
    print(f"{'engine':<12}{'action rows/s':>16}{'raw rows/s':>14}{'ratio':>8}  target >= 50%")
    for r in results:
        verdict = "PASS" if r.passed else "MISS"
        print(
            f"{r.engine:<12}{r.action_rows_per_s:>16,.0f}{r.raw_rows_per_s:>14,.0f}"
            f"{r.ratio:>8.0%}  {verdict}"
        )
    return 1 if args.check and not all(r.passed for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
