"""Portal benchmark: ``package_show`` over HTTP, with and without signal subscribers.

Run it with ``.venv/bin/python bench/portal.py`` (``--quick`` for a rough look,
``--check`` to exit 1 when the target is missed). It prints the requests per
second of ``GET /api/3/action/package_show?id=...`` served by a real WSGI
server (waitress, on a loopback port, in a subprocess) in two set-ups, and
their ratio, measured in this one run:

- **bare**: no subscriber on any signal;
- **subscribed**: 20 subscribers on each core signal of the catalog
  (``request_started``, ``request_finished``, ``action_succeeded``, ...),
  connected inside the server process before the app is built.

Target (issue 4): subscribed at least 95% of bare.

How it measures: one SQLite database is seeded once (an organization, a
dataset with tags, extras and resources); both servers run side by side on it,
each in its own process. The load generator is a few client processes, each
with one keep-alive ``http.client`` connection sending requests back to back.
The two servers are measured in alternating rounds (the order rotated every
round) of a fixed duration, after a warm-up, so a slow spell of the machine
hits both alike; every round is bounded in time and in request count. The rate
of a set-up is the median of its rounds; the table also shows the best round.
Every response is checked (status 200, ``"success": true``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import shutil
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
SUBSCRIBERS = 20
TARGET = 0.95
MAX_REQUESTS_PER_ROUND = 200_000


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


def serve(url: str, instance: str, subscribers: int, threads: int) -> None:
    """Serve the portal on a free loopback port; print ``READY <port>``."""
    import logging

    import waitress

    logging.basicConfig(level=logging.WARNING)
    kept = connect_subscribers(subscribers)
    from heliograph.web import make_app

    app = make_app(
        {
            "sqlalchemy.url": url,
            "heliograph.instance_path": instance,
            "heliograph.plugins": "",
        }
    )
    server = waitress.create_server(
        app, host="127.0.0.1", port=0, threads=threads, connection_limit=256
    )
    print(f"READY {server.effective_port} {len(kept)}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()  # until the parent terminates this process


# -- seeding ----------------------------------------------------------------------


def seed(url: str, instance: str) -> None:
    """Create the schema and one public dataset, through the actions."""
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
    model.Session.remove()


# -- the load generator -----------------------------------------------------------


def client_loop(
    port: int, duration: float, limit: int, ready: t.Any, go: t.Any, out: t.Any
) -> None:
    """Send requests back to back on one keep-alive connection; report
    ``(count, seconds, error)``. Starts when ``go`` is set, with the other clients."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    count = 0
    error = ""
    started = time.perf_counter()
    try:
        connection.connect()
        ready.put(True)
        go.wait(60)
        started = time.perf_counter()
        deadline = started + duration
        while count < limit:
            connection.request("GET", PATH)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                error = f"status {response.status}: {body[:200]!r}"
                break
            if count == 0 and json.loads(body).get("success") is not True:
                error = f"unexpected answer: {body[:200]!r}"
                break
            count += 1
            if time.perf_counter() >= deadline:
                break
    except Exception as exc:  # reported, not raised: the parent decides
        error = f"{type(exc).__name__}: {exc}"
        ready.put(False)
    finally:
        elapsed = time.perf_counter() - started
        connection.close()
    out.put((count, elapsed, error))


def measure(port: int, clients: int, duration: float) -> float:
    """Requests per second from ``clients`` client processes running together
    for ``duration`` seconds (the sum of each client's own rate)."""
    context = multiprocessing.get_context("spawn")
    ready, go, out = context.Queue(), context.Event(), context.Queue()
    limit = MAX_REQUESTS_PER_ROUND // clients
    processes = [
        context.Process(target=client_loop, args=(port, duration, limit, ready, go, out))
        for _ in range(clients)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=60)
        go.set()
        results = [out.get(timeout=duration + 60) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    errors = [error for _, _, error in results if error]
    if errors:
        raise RuntimeError(f"the load generator failed: {errors[0]}")
    return sum(count / seconds for count, seconds, _ in results if seconds > 0)


# -- orchestration ----------------------------------------------------------------


@dataclass
class Setup:
    name: str
    subscribers: int
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
        ],
        stdout=subprocess.PIPE,
        text=True,
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


def run(
    rounds: int = 5,
    duration: float = 2.0,
    warmup: float = 1.0,
    clients: int = 2,
    threads: int = 4,
    subscribers: int = SUBSCRIBERS,
) -> tuple[Setup, Setup]:
    """Seed, start both servers, measure them in alternating rounds, stop them."""
    workdir = tempfile.mkdtemp(prefix="heliograph-bench-portal-")
    url = f"sqlite:///{os.path.join(workdir, 'bench.db')}"
    bare, subscribed = Setup("bare", 0), Setup("subscribed", subscribers)
    try:
        seed(url, workdir)
        for setup in (bare, subscribed):
            start_server(setup, url, workdir, threads)
        for setup in (bare, subscribed):
            measure(setup.port, clients, warmup)
        order = [bare, subscribed]
        for _ in range(rounds):
            for setup in order:
                setup.rates.append(measure(setup.port, clients, duration))
            order.reverse()
    finally:
        for setup in (bare, subscribed):
            stop_server(setup)
        shutil.rmtree(workdir, ignore_errors=True)
    return bare, subscribed


def report(bare: Setup, subscribed: Setup) -> tuple[str, bool]:
    median_ratio = statistics.median(subscribed.rates) / statistics.median(bare.rates)
    best_ratio = max(subscribed.rates) / max(bare.rates)
    lines = [
        f"{'set-up':<12}{'receivers':>10}{'median req/s':>15}{'best req/s':>13}",
        *(
            f"{s.name:<12}{s.receivers:>10}{statistics.median(s.rates):>15.1f}{max(s.rates):>13.1f}"
            for s in (bare, subscribed)
        ),
        "",
        f"subscribed / bare: {median_ratio:.3f} (median of rounds), "
        f"{best_ratio:.3f} (best rounds); target >= {TARGET:.2f}",
    ]
    met = median_ratio >= TARGET
    lines.append("target met" if met else "target MISSED")
    return "\n".join(lines), met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="heliograph portal benchmark (one-run ratio)")
    parser.add_argument("--quick", action="store_true", help="few short rounds (rough)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="seconds per round")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="waitress threads")
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve:
        serve(args.serve, args.instance, args.subscribers, args.threads)
        return 0

    rounds = args.rounds or (2 if args.quick else 7)
    duration = args.duration or (0.5 if args.quick else 3.0)
    print(
        f"package_show over HTTP (waitress, {args.threads} threads), {args.clients} keep-alive "
        f"client processes, {rounds} rounds of {duration:g}s per set-up; "
        f"subscribed = {args.subscribers} receivers on each core signal"
    )
    bare, subscribed = run(
        rounds=rounds,
        duration=duration,
        warmup=0.3 if args.quick else 1.5,
        clients=args.clients,
        threads=args.threads,
        subscribers=args.subscribers,
    )
    text, met = report(bare, subscribed)
    print()
    print(text)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
