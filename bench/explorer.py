"""Data explorer benchmark: a page of rows of a million-row PostgreSQL table.

Run it with ``.venv/bin/python bench/explorer.py`` (``--rows N`` for another
table size, ``--quick`` for fewer repeats, ``--check`` to exit 1 when a target
is missed). It fills a datastore table of ``--rows`` rows (station text, n int,
level float, day date; ``INSERT ... SELECT generate_series``, then ANALYZE as
autovacuum would) in a PostgreSQL schema of its own, dropped at the end, and
times, each the median of its repeats:

- the resource page as a browser gets it (``GET /dataset/<id>/resource/<id>``
  through the WSGI app: ``package_show``, the explorer's ``datastore_search``
  and the template), first page, a later page, sorted, filtered, searched;
- the explorer's ``datastore_search`` call alone (51 rows, ``include_total``
  with ``total_estimation_threshold``), and the same call with an exact total
  (``COUNT(*)``), which is what the estimate saves;
- the raw baseline: ``SELECT * ... ORDER BY _id LIMIT 51`` on the same
  connection pool, no action, no conversion;
- then sort and filter again once ``datastore_create`` has indexed the two
  columns (``indexes``): without an index they scan the whole table.

Target: the first pages of the resource page (first rows, page 100) under
100 ms each. Figures print as milliseconds and as ratios against the raw
baseline measured in the same run; a deep page (``OFFSET``) costs in
proportion to its depth.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import typing as t
import uuid

import sqlalchemy as sa

POSTGRES_URL = os.environ.get(
    "HELIOGRAPH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
PAGE_TARGET_MS = 100.0
FIELDS = [
    {"id": "station", "type": "text"},
    {"id": "n", "type": "int"},
    {"id": "level", "type": "float"},
    {"id": "day", "type": "date"},
]


def _schema() -> tuple[str, t.Callable[[], None]]:
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


def _median_ms(fn: t.Callable[[], t.Any], repeats: int) -> float:
    fn()  # warm: caches, pool, compiled templates
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(rows: int, repeats: int) -> list[tuple[str, float]]:
    """``[(what, milliseconds)]``, the raw baseline first."""
    from heliograph import logic, model
    from heliograph.ext.datastore import backend
    from heliograph.logic import users
    from heliograph.web import make_app

    url, drop = _schema()
    try:
        with tempfile.TemporaryDirectory() as instance:
            app = make_app(
                {
                    "sqlalchemy.url": f"sqlite:///{instance}/portal.db",
                    "heliograph.instance_path": instance,
                    "heliograph.plugins": "datastore",
                    "heliograph.datastore.url": url,
                }
            )
            session = model.Session()
            users.create_user(session, name="editor", email="e@example.org", password=None)
            session.commit()

            def call(name: str, data: dict[str, t.Any]) -> t.Any:
                return logic.get_action(name)({"user": "editor"}, data)

            org = call("organization_create", {"name": "bench-org"})
            dataset = call(
                "package_create",
                {
                    "name": "bench",
                    "owner_org": org["id"],
                    "resources": [{"url": "http://x.test/a", "url_type": "datastore"}],
                },
            )
            rid = dataset["resources"][0]["id"]
            call("datastore_create", {"resource_id": rid, "fields": FIELDS})
            model.Session.remove()
            engine = backend.get_backend(url).engine
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        f'INSERT INTO "{rid}" (station, n, level, day) '
                        "SELECT 'station ' || (g % 5000), g, g / 7.0, "
                        "DATE '2000-01-01' + (g % 9000) FROM generate_series(1, :rows) AS g"
                    ),
                    {"rows": rows},
                )
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    f'ANALYZE "{rid}"'
                )
            print(f"loaded {rows:,} rows in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            call("datastore_search", {"resource_id": rid, "q": "warm", "limit": 1})
            indexing = time.perf_counter() - started
            print(f"first full-text search (indexes every row once): {indexing:.1f} s")

            client = app.test_client()
            page = f"/dataset/bench/resource/{rid}"

            def get(query: str = "") -> t.Callable[[], None]:
                def fetch() -> None:
                    response = client.get(page + query)
                    assert response.status_code == 200, response.status_code
                    assert "explorer-count" in response.get_data(as_text=True)

                return fetch

            def search(**extra: t.Any) -> t.Callable[[], t.Any]:
                data = {"resource_id": rid, "limit": 51, "include_total": True, **extra}
                return lambda: call("datastore_search", data)

            def raw() -> None:
                with engine.connect() as conn:
                    conn.exec_driver_sql(f'SELECT * FROM "{rid}" ORDER BY _id LIMIT 51').all()

            middle = rows // 2
            figures = [
                ("raw SELECT ... LIMIT 51 (baseline)", _median_ms(raw, repeats)),
                (
                    "datastore_search, estimated total",
                    _median_ms(search(total_estimation_threshold=100_000), repeats),
                ),
                ("datastore_search, exact COUNT(*) total", _median_ms(search(), repeats)),
                ("page: first rows", _median_ms(get(), repeats)),
                ("page: page 100", _median_ms(get("?page=100"), repeats)),
                (
                    f"page: page {middle // 50:,} (middle)",
                    _median_ms(get(f"?page={middle // 50}"), repeats),
                ),
                ("page: sorted by n desc", _median_ms(get("?sort=n&order=desc"), repeats)),
                (
                    "page: filter station = 'station 42'",
                    _median_ms(get("?filter_field=station&filter_value=station+42"), repeats),
                ),
                ("page: full-text search '42'", _median_ms(get("?q=42"), repeats)),
            ]
            started = time.perf_counter()
            call(
                "datastore_create",
                {"resource_id": rid, "fields": FIELDS, "indexes": ["n", "station"]},
            )
            print(f"indexes on n and station made in {time.perf_counter() - started:.1f} s")
            figures += [
                (
                    "page: sorted by n desc, n indexed",
                    _median_ms(get("?sort=n&order=desc"), repeats),
                ),
                (
                    "page: filter station = 'station 42', indexed",
                    _median_ms(get("?filter_field=station&filter_value=station+42"), repeats),
                ),
            ]
            backend.dispose_all()
            return figures
    finally:
        drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="data explorer on a large table")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    figures = run(args.rows, 3 if args.quick else args.repeats)
    baseline = figures[0][1]
    print(f"{'what':<48}{'ms':>9}{'x raw':>9}")
    for what, ms in figures:
        print(f"{what:<48}{ms:>9.1f}{ms / baseline:>9.1f}")
    measured = dict(figures)
    pages = [measured["page: first rows"], measured["page: page 100"]]
    ok = all(ms < PAGE_TARGET_MS for ms in pages)
    print(
        f"first rows {pages[0]:.1f} ms, page 100 {pages[1]:.1f} ms, "
        f"target < {PAGE_TARGET_MS:.0f} ms: {'PASS' if ok else 'MISS'}"
    )
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
