"""Portal benchmarks over HTTP, each a ratio of two servers measured in one run.

Run it with ``.venv/bin/python bench/portal.py`` (``--case show|update|all``,
default all; ``--quick`` for a rough look; ``--check`` to exit 1 when a case
misses its target). Each case starts two real WSGI servers (waitress, on
loopback ports, each in a process of its own) that differ in one thing, and
prints both rates and their ratio:

- **show**: ``GET /api/3/action/package_show?id=...``; **bare** (no
  subscriber on any signal) against **subscribed** (20 subscribers on each
  core signal of the catalog, connected in the server process before the app
  is built). Target: subscribed at least 95% of bare. A third server,
  **plain**, has the same subscribers but every core signal's ``send``
  replaced by a hand-written minimal dispatcher (a list comprehension calling
  each receiver, ``[(r, r(sender, **kwargs)) for r in receivers]``, failures
  not isolated): plain / bare is what calling those receivers costs a
  hand-written dispatcher, and subscribed / plain is the signal core against
  it (above 1 when the core is the faster).
- **background**: the same ``package_update`` load; **none** (no plugin)
  against **background** (a plugin with one background receiver on
  ``action_succeeded`` for ``package_update``: every update writes an event
  to the outbox in its transaction, and the server's delivery worker, running
  in both servers as ``heliograph serve`` runs it on SQLite, delivers them
  meanwhile). Target: background at least 90% of none.
- **update**: ``POST /api/3/action/package_update`` of the whole
  dataset with a new ``notes`` each time, as a sysadmin with an API token;
  **off** (no plugin) against **on** (the ``activity`` plugin, which records
  an activity with a snapshot of the dataset inside every update's
  transaction). Target: on at least 80% of off. Writes grow the database, so
  each server writes to its own copy of the seeded database, and one client
  per server sends one request at a time: SQLite takes one writer at a time,
  so more clients would measure lock waits, alike on both sides, instead of
  the work the plugin adds.

How it measures: a SQLite database is seeded once through the actions (an
organization, a dataset with tags, extras and resources). The load generator
is client processes (this script again, ``--client``) that stay up for the
whole run, each with one keep-alive ``http.client`` connection per server,
sending requests back to back. After a warm-up, the servers are loaded in many
short rounds, one server after the other with the order rotated every round,
so the two measurements of a round are a second apart and the machine's slow
drifts hit both alike (``--side-by-side`` loads both servers at once instead:
fairer against bursts of other work, but noisier on a machine with few cores).
Every round is bounded in time and in request count. The verdict is the
median, over the rounds, of the ratio of the two servers' rates in that round;
the table also shows each set-up's median and best round and the spread of the
paired ratios. Every response is checked (status 200; ``"success": true`` on
the first of each round).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from dataclasses import dataclass, field

if __package__ in (None, ""):  # run as a script from a checkout: find the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DATASET = "bench-dataset"
PATH = f"/api/3/action/package_show?id={DATASET}"
UPDATE_PATH = "/api/3/action/package_update"
SUBSCRIBERS = 20
TARGET = 0.95
UPDATE_TARGET = 0.80
BACKGROUND_TARGET = 0.90
WRITE_CASES = ("update", "background")
MAX_REQUESTS_PER_ROUND = 200_000
DEFAULT_CLIENTS = 1 if (os.cpu_count() or 1) <= 4 else 2
"""Client processes per server."""


# -- the server process -----------------------------------------------------------


def connect_subscribers(count: int) -> list[t.Callable[..., None]]:
    """Connect ``count`` do-nothing receivers to every core signal (kept alive
    by the returned list)."""
    from heliograph.lib import signals

    kept: list[t.Callable[..., None]] = []
    for entry in signals.catalog(include_undocumented=False):
        for _ in range(count):

            def receiver(sender: t.Any, **kwargs: t.Any) -> None:
                return None

            entry.signal.connect(receiver, weak=False)
            kept.append(receiver)
    return kept


DELIVERED_FILE = "HELIOGRAPH_BENCH_DELIVERED"
"""Environment variable naming the file the background receiver appends a byte
to per delivery (the worker prunes delivered rows, so the database cannot tell)."""


def background_noop(sender: t.Any, **kwargs: t.Any) -> None:
    """The background receiver of the ``background`` case: counts its call."""
    path = os.environ.get(DELIVERED_FILE)
    if path:
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, b".")
        finally:
            os.close(descriptor)


def _bench_background_plugin() -> type[t.Any]:
    import heliograph.plugins as p
    import heliograph.plugins.toolkit as tk

    class BenchBackground(p.SingletonPlugin):
        p.implements(p.ISignal)

        def get_signal_subscriptions(self) -> t.Any:
            return {
                tk.signals.action_succeeded: [
                    {"receiver": background_noop, "sender": "package_update", "background": True}
                ]
            }

    return BenchBackground


def plain_dispatch() -> int:
    """Replace the ``send`` of every core signal by a list comprehension over
    its receivers (the show case's *plain* server); return how many."""
    from heliograph.lib import signals

    replaced = 0
    for entry in signals.catalog(include_undocumented=False):
        receivers = tuple(entry.signal.receivers_for(object()))

        def send(
            sender: t.Any = None,
            /,
            *,
            _async_wrapper: t.Any = None,
            _receivers: tuple[t.Any, ...] = receivers,
            **kwargs: t.Any,
        ) -> list[tuple[t.Any, t.Any]]:
            return [(receiver, receiver(sender, **kwargs)) for receiver in _receivers]

        # An instance attribute, where the core installs its generated send;
        # nothing connects or disconnects afterwards to put that one back.
        entry.signal.send = send  # type: ignore[method-assign]
        replaced += 1
    return replaced


def serve(
    url: str, instance: str, subscribers: int, threads: int, plugins: str = "", plain: bool = False
) -> None:
    """Serve the portal (with ``plugins``; with ``plain``, the core signals
    dispatched by :func:`plain_dispatch`) on a free loopback port; print
    ``READY <port>``."""
    import logging

    import waitress

    logging.basicConfig(level=logging.WARNING)
    kept = connect_subscribers(subscribers)
    from heliograph import plugins as plugin_system
    from heliograph.events.runtime import Runtime
    from heliograph.web import EXTENSION_KEY, make_app

    if "bench_background" in plugins.split():
        plugin_system.register("bench_background", _bench_background_plugin(), replace=True)

    app = make_app(
        {
            "sqlalchemy.url": url,
            "heliograph.instance_path": instance,
            "heliograph.plugins": plugins,
        }
    )
    server = waitress.create_server(
        app, host="127.0.0.1", port=0, threads=threads, connection_limit=256
    )
    Runtime(app.extensions[EXTENSION_KEY]["engine"], worker=True).start()  # as serve on SQLite
    if plain:
        plain_dispatch()
    print(f"READY {server.effective_port} {len(kept)}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()  # until the parent terminates this process


# -- seeding ----------------------------------------------------------------------


def seed(url: str, instance: str) -> tuple[str, dict[str, t.Any]]:
    """Create the schema and one public dataset, through the actions; return a
    sysadmin's API token and the dataset as ``package_show`` gives it."""
    from heliograph import logic, model
    from heliograph.logic import tokens
    from heliograph.web import make_app

    make_app(
        {"sqlalchemy.url": url, "heliograph.instance_path": instance, "heliograph.plugins": ""}
    )
    session = model.Session()
    admin = model.User(name="bench-admin", email="bench@example.org", sysadmin=True)
    session.add(admin)
    session.flush()
    _row, token = tokens.create_token(session, admin, "bench")
    session.commit()

    def call(name: str, data: dict[str, t.Any]) -> t.Any:
        return logic.get_action(name)({"user": "bench-admin", "session": model.Session}, data)

    org = call("organization_create", {"name": "bench-org", "title": "Bench organization"})
    call(
        "package_create",
        {
            "name": DATASET,
            "title": "Benchmark dataset",
            "owner_org": org["id"],
            "notes": "A dataset for the portal benchmark. " * 5,
            "tags": [{"name": f"tag-{i}"} for i in range(5)],
            "extras": [{"key": f"key-{i}", "value": f"value {i}"} for i in range(5)],
            "resources": [
                {"url": f"http://example.org/{i}.csv", "name": f"File {i}", "format": "CSV"}
                for i in range(3)
            ],
        },
    )
    dataset = call("package_show", {"id": DATASET})
    model.Session.remove()
    return str(token), dataset


# -- the load generator -----------------------------------------------------------


Request = tuple[str, str, bytes | None, dict[str, str]]


def requests(case: str, spec_file: str | None) -> t.Iterator[Request]:
    """The requests of ``case``, endlessly: (method, path, body, headers).
    ``update`` reads the token and the dataset from ``spec_file`` and changes
    ``notes`` in every request."""
    if case == "show":
        while True:
            yield "GET", PATH, None, {}
    assert spec_file is not None
    with open(spec_file, encoding="utf-8") as handle:
        spec = json.load(handle)
    if case in READ_KINDS:
        paths = spec["paths"][case]
        number = int(spec.get("offset", 0)) + os.getpid()  # clients start apart
        while True:
            yield "GET", paths[number % len(paths)], None, {}
            number += 1
    headers = {"Authorization": spec["token"], "Content-Type": "application/json"}
    dataset = spec["dataset"]
    number = 0
    while True:
        number += 1
        body = json.dumps({**dataset, "notes": f"Update {number} of the benchmark."})
        yield "POST", UPDATE_PATH, body.encode("utf-8"), headers


def client(limit: int, case: str = "show", spec_file: str | None = None) -> None:
    """One client process, kept for the whole run. It prints ``READY``, then
    for each line ``PORT SECONDS`` on stdin sends requests of ``case`` back to
    back on its keep-alive connection to that port for that long (at most
    ``limit``) and prints ``{"count", "seconds", "error"}`` as JSON; an empty
    line ends it."""
    connections: dict[int, http.client.HTTPConnection] = {}
    outgoing = requests(case, spec_file)
    print("READY", flush=True)
    for line in sys.stdin:
        if not line.strip():
            break
        port_text, seconds_text = line.split()
        port, duration = int(port_text), float(seconds_text)
        count = 0
        error = ""
        started = time.perf_counter()
        try:
            connection = connections.get(port)
            if connection is None:
                connection = connections[port] = http.client.HTTPConnection(
                    "127.0.0.1", port, timeout=30
                )
            deadline = started + duration
            while count < limit:
                method, path, body_out, headers = next(outgoing)
                connection.request(method, path, body=body_out, headers=headers)
                response = connection.getresponse()
                body = response.read()
                if response.status != 200:
                    error = f"status {response.status}: {body[:200]!r}"
                    break
                if (
                    count == 0
                    and response.getheader("Content-Type", "").startswith("application/json")
                    and json.loads(body).get("success") is not True
                ):
                    error = f"unexpected answer: {body[:200]!r}"
                    break
                count += 1
                if time.perf_counter() >= deadline:
                    break
        except Exception as exc:  # reported, not raised: the parent decides
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        print(json.dumps({"count": count, "seconds": seconds, "error": error}), flush=True)
    for connection in connections.values():
        connection.close()


class Clients:
    """Client processes (this script with ``--client``) that stay up between rounds."""

    def __init__(
        self,
        count: int,
        case: str = "show",
        spec_file: str | None = None,
        limit: int = MAX_REQUESTS_PER_ROUND,
    ) -> None:
        command = [sys.executable, os.path.abspath(__file__), "--client"]
        command += ["--limit", str(limit), "--case", case]
        if spec_file is not None:
            command += ["--spec", spec_file]
        self.processes = [
            subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(count)
        ]
        for process in self.processes:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            if line != "READY":
                self.close()
                raise RuntimeError(f"a load generator did not start: {line!r}")

    def run(self, ports: list[int], duration: float) -> list[float]:
        """Send client ``i`` at ``ports[i]`` for ``duration`` seconds, all at
        once; return the requests per second of each distinct port, in order."""
        busy = list(zip(self.processes, ports, strict=False))
        for process, port in busy:
            assert process.stdin is not None
            process.stdin.write(f"{port} {duration}\n")
            process.stdin.flush()
        rates = dict.fromkeys(ports, 0.0)
        errors: list[str] = []
        for process, port in busy:
            assert process.stdout is not None
            result = json.loads(process.stdout.readline())
            if result["error"]:
                errors.append(result["error"])
            elif result["seconds"] > 0:
                rates[port] += result["count"] / result["seconds"]
        if errors:
            raise RuntimeError(f"the load generator failed: {errors[0]}")
        return list(rates.values())

    def close(self) -> None:
        for process in self.processes:
            try:
                if process.stdin is not None and not process.stdin.closed:
                    process.stdin.write("\n")
                    process.stdin.close()
                process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


# -- orchestration ----------------------------------------------------------------


@dataclass
class Setup:
    name: str
    subscribers: int
    plugins: str = ""
    plain: bool = False
    """The core signals dispatched by a plain list comprehension (see plain_dispatch)."""
    database: str = ""
    activities: int | None = None
    """Activities in the server's database after the run (None: no activity table)."""
    events: tuple[int, int] | None = None
    """Background events written and deliveries left after the run (background case)."""
    process: subprocess.Popen[str] | None = None
    port: int = 0
    receivers: int = 0
    rates: list[float] = field(default_factory=list)


def start_server(setup: Setup, url: str, instance: str, threads: int) -> None:
    setup.process = subprocess.Popen(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--serve",
            url,
            "--instance",
            instance,
            "--subscribers",
            str(setup.subscribers),
            "--threads",
            str(threads),
            "--plugins",
            setup.plugins,
            *(["--plain-dispatch"] if setup.plain else []),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, DELIVERED_FILE: delivered_file(setup)},
    )
    assert setup.process.stdout is not None
    line = setup.process.stdout.readline()
    if not line.startswith("READY "):
        setup.process.kill()
        raise RuntimeError(f"the {setup.name} server did not start: {line!r}")
    _, port, receivers = line.split()
    setup.port, setup.receivers = int(port), int(receivers)


def stop_server(setup: Setup) -> None:
    process = setup.process
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


def copy_database(source: str, target: str) -> None:
    """A consistent copy of SQLite database ``source`` (write-ahead log included)."""
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def run(
    rounds: int = 5,
    duration: float = 2.0,
    warmup: float = 1.0,
    clients: int = DEFAULT_CLIENTS,
    threads: int = 4,
    subscribers: int = SUBSCRIBERS,
    side_by_side: bool = False,
    case: str = "show",
) -> list[Setup]:
    """Seed, start the servers of ``case`` (two; three for ``show``), measure
    them round by round, stop them; return them, the baseline first.

    ``side_by_side``: in each round both servers are loaded at the same time
    (so whatever else the machine does hits both alike); otherwise one after
    the other, the order rotated every round. ``update`` gives each server its
    own copy of the database and one client.
    """
    workdir = tempfile.mkdtemp(prefix="heliograph-bench-portal-")
    seeded = os.path.join(workdir, "bench.db")
    if case == "update":
        setups = [Setup("off", 0), Setup("on", 0, plugins="activity")]
        clients = 1
    elif case == "background":
        setups = [Setup("none", 0), Setup("background", 0, plugins="bench_background")]
        clients = 1
    else:
        setups = [
            Setup("bare", 0),
            Setup("subscribed", subscribers),
            Setup("plain", subscribers, plain=True),
        ]
    load: Clients | None = None
    try:
        token, dataset = seed(f"sqlite:///{seeded}", workdir)
        spec_file = os.path.join(workdir, "spec.json")
        with open(spec_file, "w", encoding="utf-8") as handle:
            json.dump({"token": token, "dataset": dataset}, handle)
        for setup in setups:
            path = seeded
            if case in WRITE_CASES:
                path = os.path.join(workdir, f"{setup.name}.db")
                copy_database(seeded, path)
                setup.database = path
            start_server(setup, f"sqlite:///{path}", workdir, threads)
        load = Clients(clients * len(setups) if side_by_side else clients, case, spec_file)
        every = [s.port for s in setups for _ in range(clients)]
        if side_by_side:
            load.run(every, warmup)
        else:
            for setup in setups:
                load.run([setup.port] * clients, warmup)
        for number in range(rounds):
            if side_by_side:
                for setup, rate in zip(setups, load.run(every, duration), strict=True):
                    setup.rates.append(rate)  # one rate per distinct port
                continue
            for setup in setups if number % 2 == 0 else reversed(setups):
                setup.rates.append(load.run([setup.port] * clients, duration)[0])
    finally:
        if load is not None:
            load.close()
        for setup in setups:
            stop_server(setup)
        for setup in setups:
            if setup.database and case == "update":
                setup.activities = count_activities(setup.database)
            if setup.database and case == "background":
                setup.events = count_events(setup)
        shutil.rmtree(workdir, ignore_errors=True)
    return setups


def delivered_file(setup: Setup) -> str:
    """The file the server of ``setup`` counts its background deliveries in."""
    return f"{setup.database}.delivered" if setup.database else os.devnull


def count_events(setup: Setup) -> tuple[int, int]:
    """``(events written, deliveries left)`` of ``setup``'s database: those
    delivered (counted by the receiver) and those still in the database."""
    with contextlib.closing(sqlite3.connect(setup.database)) as conn:
        left = int(conn.execute("SELECT count(*) FROM event_delivery").fetchone()[0])
    path = delivered_file(setup)
    delivered = os.path.getsize(path) if os.path.exists(path) else 0
    return delivered + left, left


def count_activities(path: str) -> int | None:
    """The activities recorded in database ``path``; None without the plugin's table."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM activity").fetchone()[0])
        except sqlite3.OperationalError:
            return None


def paired_ratio(top: Setup, bottom: Setup) -> str:
    """``top / bottom``: the median of the paired rounds' ratios, their
    spread and the ratio of the medians, as the report prints it."""
    paired = [a / b for a, b in zip(top.rates, bottom.rates, strict=True) if b > 0]
    of_medians = statistics.median(top.rates) / statistics.median(bottom.rates)
    return (
        f"{top.name} / {bottom.name}: {statistics.median(paired):.3f} (median of {len(paired)} "
        f"paired rounds, spread {min(paired):.3f}-{max(paired):.3f}; ratio of medians "
        f"{of_medians:.3f})"
    )


def report(
    bare: Setup, subscribed: Setup, target: float = TARGET, plain: Setup | None = None
) -> tuple[str, bool]:
    """The table and the verdict. Round ``i`` of the set-ups ran back to back,
    so the ratio of each round pair cancels the machine's slow drifts; the
    verdict is the median of those paired ratios, against ``target``. With
    ``plain`` (the show case's third server), also what a plain loop calling
    the same receivers gets, and the core against it."""
    paired = [s / b for s, b in zip(subscribed.rates, bare.rates, strict=True) if b > 0]
    ratio = statistics.median(paired)
    shown = (bare, subscribed) if plain is None else (bare, subscribed, plain)
    lines = [
        f"{'set-up':<12}{'receivers':>10}{'median req/s':>15}{'best req/s':>13}",
        *(
            f"{s.name:<12}{s.receivers:>10}{statistics.median(s.rates):>15.1f}{max(s.rates):>13.1f}"
            for s in shown
        ),
        *(
            f"{s.name}: "
            + ("no activity table" if s.activities is None else f"{s.activities} activities")
            for s in (bare, subscribed)
            if s.database and s.events is None
        ),
        *(
            f"{s.name}: {s.events[0]} background events written, {s.events[1]} left to deliver"
            for s in (bare, subscribed)
            if s.events is not None
        ),
        "",
        f"{paired_ratio(subscribed, bare)}; target >= {target:.2f}",
    ]
    if plain is not None:
        lines += [
            f"{paired_ratio(plain, bare)}: the same receivers called by a plain loop",
            f"{paired_ratio(subscribed, plain)}: the signal core against that loop",
        ]
    met = ratio >= target
    lines.append("target met" if met else "target MISSED")
    return "\n".join(lines), met


# -- the read path against a bare Flask baseline --------------------------------

READ_KINDS = ("package_show", "package_search", "dataset_page")
READ_TARGETS = {"package_show": 0.50, "package_search": 0.25, "dataset_page": 0.30}
"""Each kind's target: heliograph's rate at least this share of the bare baseline's."""
CATALOG_SIZE = 1000
SEARCH_FACETS = ("organization", "groups", "tags", "res_format", "license_id")
MEMORY_REQUESTS = 10_000
MEMORY_LIMIT_MB = 150.0
POSTGRES_URL = os.environ.get(
    "HELIOGRAPH_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
LICENSES = ("cc-by", "odc-odbl", "cc-zero", "other-open", "notspecified")


def catalog_name(number: int) -> str:
    return f"bench-catalog-{number:04d}"


def read_paths(count: int) -> dict[str, list[str]]:
    """The request paths of each read kind: ``package_show`` and the dataset
    page of every dataset of the catalog, and one search of 20 results with
    facets."""
    import urllib.parse

    facets = urllib.parse.quote(json.dumps(list(SEARCH_FACETS)))
    return {
        "package_show": [f"/api/3/action/package_show?id={catalog_name(i)}" for i in range(count)],
        "package_search": [f"/api/3/action/package_search?rows=20&facet.field={facets}"],
        "dataset_page": [f"/dataset/{catalog_name(i)}" for i in range(count)],
    }


def seed_catalog(url: str, instance: str, count: int = CATALOG_SIZE) -> None:
    """Create the schema and ``count`` public datasets through the actions,
    each as ``seed`` makes its one (3 resources, 5 tags, 5 extras), spread
    over 5 organizations, 5 groups and 50 tags."""
    from heliograph import logic, model
    from heliograph.web import make_app

    make_app(
        {"sqlalchemy.url": url, "heliograph.instance_path": instance, "heliograph.plugins": ""}
    )
    session = model.Session()
    session.add(model.User(name="bench-admin", email="bench@example.org", sysadmin=True))
    session.commit()

    def call(name: str, data: dict[str, t.Any]) -> t.Any:
        return logic.get_action(name)({"user": "bench-admin", "session": model.Session}, data)

    orgs = [
        call("organization_create", {"name": f"bench-org-{i}", "title": f"Organization {i}"})
        for i in range(5)
    ]
    groups = [
        call("group_create", {"name": f"bench-group-{i}", "title": f"Group {i}"}) for i in range(5)
    ]
    for number in range(count):
        call(
            "package_create",
            {
                "name": catalog_name(number),
                "title": f"Catalog dataset {number}",
                "owner_org": orgs[number % len(orgs)]["id"],
                "license_id": LICENSES[number % len(LICENSES)],
                "notes": f"Dataset {number} of the read benchmark. " * 5,
                "tags": [{"name": f"tag-{(number + i * 7) % 50}"} for i in range(5)],
                "groups": [{"id": groups[number % len(groups)]["id"]}],
                "extras": [{"key": f"key-{i}", "value": f"value {i}"} for i in range(5)],
                "resources": [
                    {
                        "url": f"http://example.org/{number}/{i}.csv",
                        "name": f"File {i}",
                        "format": ("CSV", "JSON", "XLSX")[i],
                    }
                    for i in range(3)
                ],
            },
        )
    model.Session.remove()


def serve_bare(docs_file: str, threads: int) -> None:
    """A bare Flask app on waitress answering every path of ``docs_file`` with
    its prepared document (the body heliograph gave, with its content type)."""
    import logging

    import flask
    import waitress

    logging.basicConfig(level=logging.WARNING)
    with open(docs_file, encoding="utf-8") as handle:
        docs = {
            path: (body.encode("utf-8"), content_type)
            for path, (content_type, body) in json.load(handle).items()
        }
    app = flask.Flask("bench_bare")

    @app.route("/<path:_path>")
    def prepared(_path: str) -> flask.Response:
        request = flask.request
        query = request.query_string.decode("latin-1")
        body, content_type = docs[request.path + ("?" + query if query else "")]
        return flask.Response(body, 200, content_type=content_type)

    server = waitress.create_server(
        app, host="127.0.0.1", port=0, threads=threads, connection_limit=256
    )
    print(f"READY {server.effective_port} 0", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()


def fetch_documents(port: int, paths: dict[str, list[str]]) -> dict[str, tuple[str, str]]:
    """``{path: (content type, body)}`` of every path, as the server at ``port`` answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    docs: dict[str, tuple[str, str]] = {}
    try:
        for kind_paths in paths.values():
            for path in kind_paths:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {path}: status {response.status}: {body[:200]!r}")
                docs[path] = (response.getheader("Content-Type", ""), body.decode("utf-8"))
    finally:
        connection.close()
    return docs


def resident_mb(pid: int) -> float:
    """The resident set size of process ``pid`` in MB (from /proc)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@dataclass
class ReadSeries:
    database: str
    clients: int
    kind: str
    portal: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    size: int = 0
    """Bytes of the first document of the kind."""

    @property
    def ratio(self) -> float:
        return statistics.median(p / b for p, b in zip(self.portal, self.bare, strict=True) if b)

    @property
    def target(self) -> float:
        return READ_TARGETS[self.kind]


@dataclass
class Memory:
    database: str
    requests: int
    datasets: int
    before_mb: float
    after_mb: float


@contextlib.contextmanager
def database_url(kind: str, workdir: str) -> t.Iterator[str]:
    """A fresh database of ``kind`` (``sqlite``: a file in ``workdir``;
    ``postgresql``: a schema of its own, dropped afterwards)."""
    if kind == "sqlite":
        yield f"sqlite:///{os.path.join(workdir, 'catalog.db')}"
        return
    import uuid

    import sqlalchemy as sa

    from heliograph.model import engine_for

    schema = f"heliograph_bench_{uuid.uuid4().hex[:12]}"
    admin = engine_for(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        from heliograph import model

        model.Session.remove()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def start_bare(setup: Setup, docs_file: str, threads: int) -> None:
    setup.process = subprocess.Popen(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--serve-bare",
            docs_file,
            "--threads",
            str(threads),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert setup.process.stdout is not None
    line = setup.process.stdout.readline()
    if not line.startswith("READY "):
        setup.process.kill()
        raise RuntimeError(f"the bare server did not start: {line!r}")
    setup.port = int(line.split()[1])


def run_read(
    databases: t.Sequence[str] = ("sqlite", "postgresql"),
    client_counts: t.Sequence[int] = (1, 4),
    rounds: int = 20,
    duration: float = 0.5,
    warmup: float = 1.0,
    threads: int = 8,
    count: int = CATALOG_SIZE,
    memory_requests: int = MEMORY_REQUESTS,
) -> tuple[list[ReadSeries], list[Memory]]:
    """Seed a catalog of ``count`` datasets in each database, then measure
    each read kind on heliograph and on the bare baseline round by round (the
    order rotated every round), for each number of clients; then, on a freshly
    started server, the resident size before and after ``memory_requests``
    ``package_show`` requests spread over every dataset."""
    series: list[ReadSeries] = []
    memory: list[Memory] = []
    for database in databases:
        workdir = tempfile.mkdtemp(prefix="heliograph-bench-read-")
        portal = Setup("heliograph", 0)
        bare = Setup("bare", 0)
        load: Clients | None = None
        try:
            with database_url(database, workdir) as url:
                seed_catalog(url, workdir, count)
                paths = read_paths(count)
                spec_file = os.path.join(workdir, "spec.json")
                with open(spec_file, "w", encoding="utf-8") as handle:
                    json.dump({"paths": paths}, handle)
                start_server(portal, url, workdir, threads)
                docs = fetch_documents(portal.port, paths)
                docs_file = os.path.join(workdir, "docs.json")
                with open(docs_file, "w", encoding="utf-8") as handle:
                    json.dump(docs, handle)
                start_bare(bare, docs_file, threads)
                for clients in client_counts:
                    for kind in READ_KINDS:
                        entry = ReadSeries(database, clients, kind)
                        entry.size = len(docs[paths[kind][0]][1].encode("utf-8"))
                        load = Clients(clients, kind, spec_file)
                        for setup in (portal, bare):
                            load.run([setup.port] * clients, warmup)
                        for number in range(rounds):
                            order = (portal, bare) if number % 2 == 0 else (bare, portal)
                            for setup in order:
                                rate = sum(load.run([setup.port] * clients, duration))
                                (entry.portal if setup is portal else entry.bare).append(rate)
                        load.close()
                        load = None
                        series.append(entry)
                stop_server(portal)
                stop_server(bare)
                if memory_requests:
                    fresh = Setup("memory", 0)
                    start_server(fresh, url, workdir, threads)
                    try:
                        assert fresh.process is not None
                        before = resident_mb(fresh.process.pid)
                        per_client = memory_requests // 4
                        load = Clients(4, "package_show", spec_file, limit=per_client)
                        load.run([fresh.port] * 4, 3600.0)
                        memory.append(
                            Memory(
                                database,
                                per_client * 4,
                                count,
                                before,
                                resident_mb(fresh.process.pid),
                            )
                        )
                    finally:
                        if load is not None:
                            load.close()
                            load = None
                        stop_server(fresh)
        finally:
            if load is not None:
                load.close()
            stop_server(portal)
            stop_server(bare)
            shutil.rmtree(workdir, ignore_errors=True)
    return series, memory


def report_read(series: list[ReadSeries], memory: list[Memory]) -> tuple[str, bool]:
    """The table of the read kinds (heliograph and bare rates, their paired
    ratio against its target) and the resident sizes; the verdict."""
    lines = [
        f"{'database':<11}{'clients':>8}  {'kind':<15}{'bytes':>7}{'heliograph/s':>14}"
        f"{'bare/s':>9}{'ratio':>8}{'target':>8}  verdict"
    ]
    met = True
    for entry in series:
        ok = entry.ratio >= entry.target
        met = met and ok
        lines.append(
            f"{entry.database:<11}{entry.clients:>8}  {entry.kind:<15}{entry.size:>7}"
            f"{statistics.median(entry.portal):>14.1f}{statistics.median(entry.bare):>9.1f}"
            f"{entry.ratio:>8.3f}{entry.target:>8.2f}  {'met' if ok else 'MISSED'}"
        )
    for entry in memory:
        ok = entry.after_mb < MEMORY_LIMIT_MB
        met = met and ok
        lines.append(
            f"{entry.database}: server RSS {entry.before_mb:.1f} MB at start, "
            f"{entry.after_mb:.1f} MB after {entry.requests} package_show of "
            f"{entry.datasets} datasets; limit < {MEMORY_LIMIT_MB:.0f} MB: "
            f"{'met' if ok else 'MISSED'}"
        )
    return "\n".join(lines), met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="heliograph portal benchmark (one-run ratio)")
    parser.add_argument("--quick", action="store_true", help="few short rounds (rough)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="seconds per round")
    parser.add_argument(
        "--clients", type=int, default=DEFAULT_CLIENTS, help="client processes per server"
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="load both servers at once (default: one after the other)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="waitress threads (default 4; read case 8)"
    )
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    parser.add_argument(
        "--case",
        choices=("show", "update", "background", "read", "all", *READ_KINDS),
        default="all",
        help="which benchmark (read: the read path against a bare Flask baseline)",
    )
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="read case: the databases, comma-separated (sqlite, postgresql)",
    )
    parser.add_argument(
        "--read-clients", default="1,4", help="read case: the client counts, comma-separated"
    )
    parser.add_argument(
        "--datasets", type=int, default=CATALOG_SIZE, help="read case: datasets in the catalog"
    )
    parser.add_argument("--serve-bare", metavar="DOCS", help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--plugins", default="", help=argparse.SUPPRESS)
    parser.add_argument("--plain-dispatch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=MAX_REQUESTS_PER_ROUND, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.client:
        client(args.limit, "show" if args.case == "all" else args.case, args.spec)
        return 0

    if args.serve_bare:
        serve_bare(args.serve_bare, args.threads or 8)
        return 0

    if args.serve:
        serve(
            args.serve,
            args.instance,
            args.subscribers,
            args.threads or 4,
            args.plugins,
            args.plain_dispatch,
        )
        return 0

    read_threads = args.threads or 8
    args.threads = args.threads or 4

    rounds = args.rounds or (3 if args.quick else 40)
    duration = args.duration or (0.3 if args.quick else 0.75)
    cases = ("show", "update", "background", "read") if args.case == "all" else (args.case,)
    all_met = True
    for number, case in enumerate(cases):
        if number:
            print()
        if case == "read":
            databases = [d.strip() for d in args.databases.split(",") if d.strip()]
            client_counts = [int(n) for n in args.read_clients.split(",") if n.strip()]
            read_rounds = args.rounds or (4 if args.quick else 20)
            read_duration = args.duration or (0.3 if args.quick else 0.5)
            threads = read_threads
            print(
                f"the read path over HTTP (waitress, {threads} threads per server): heliograph "
                f"against a bare Flask view returning the same prepared document; "
                f"{args.datasets} datasets; {read_rounds} rounds of {read_duration:g}s, alternating"
            )
            series, memory = run_read(
                databases=databases,
                client_counts=client_counts,
                rounds=read_rounds,
                duration=read_duration,
                warmup=0.3 if args.quick else 1.0,
                threads=threads,
                count=args.datasets,
            )
            text, met = report_read(series, memory)
            all_met = all_met and met
            print()
            print(text)
            continue
        if case == "show":
            print(
                f"package_show over HTTP (waitress, {args.threads} threads per server), "
                f"{args.clients} keep-alive client process(es) per server, {rounds} rounds of "
                f"{duration:g}s, {'side by side' if args.side_by_side else 'alternating'}; "
                f"subscribed = {args.subscribers} receivers on each core signal"
            )
        else:
            compared = (
                "on = the activity plugin, off = no plugin"
                if case == "update"
                else "background = one background receiver on package_update, none = no plugin"
            )
            print(
                f"package_update over HTTP (waitress, {args.threads} threads per server), "
                f"1 keep-alive client process per server, {rounds} rounds of {duration:g}s, "
                f"{'side by side' if args.side_by_side else 'alternating'}; "
                f"{compared}; each server on its own database"
            )
        first, second, *third = run(
            rounds=rounds,
            duration=duration,
            warmup=0.3 if args.quick else 1.0,
            clients=args.clients,
            threads=args.threads,
            subscribers=args.subscribers,
            side_by_side=args.side_by_side,
            case=case,
        )
        targets = {"show": TARGET, "update": UPDATE_TARGET, "background": BACKGROUND_TARGET}
        text, met = report(first, second, targets[case], third[0] if third else None)
        all_met = all_met and met
        print()
        print(text)
    return 1 if args.check and not all_met else 0


if __name__ == "__main__":
    sys.exit(main())
