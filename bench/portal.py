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
dataset with tags, extras and resources); both servers run on it, each in its
own process. The load generator is client processes (this script again,
``--client``) that stay up for the whole run, each with one keep-alive
``http.client`` connection per server, sending requests back to back. After a
warm-up, the servers are loaded in many short rounds, one server after the
other with the order rotated every round, so the two measurements of a round
are a second apart and the machine's slow drifts hit both alike
(``--side-by-side`` loads both servers at once instead: fairer against bursts
of other work, but noisier on a machine with few cores). Every round is
bounded in time and in request count. The verdict is the median, over the
rounds, of the ratio of the two servers' rates in that round; the table also
shows each set-up's median and best round and the spread of the paired
ratios. Every response is checked (status 200, ``"success": true``).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
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


def client(limit: int) -> None:
    """One client process, kept for the whole run. It prints ``READY``, then
    for each line ``PORT SECONDS`` on stdin sends requests back to back on its
    keep-alive connection to that port for that long (at most ``limit``) and
    prints ``{"count", "seconds", "error"}`` as JSON; an empty line ends it."""
    connections: dict[int, http.client.HTTPConnection] = {}
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
        seconds = time.perf_counter() - started
        print(json.dumps({"count": count, "seconds": seconds, "error": error}), flush=True)
    for connection in connections.values():
        connection.close()


class Clients:
    """Client processes (this script with ``--client``) that stay up between rounds."""

    def __init__(self, count: int) -> None:
        command = [sys.executable, os.path.abspath(__file__), "--client"]
        command += ["--limit", str(MAX_REQUESTS_PER_ROUND)]
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
    clients: int = DEFAULT_CLIENTS,
    threads: int = 4,
    subscribers: int = SUBSCRIBERS,
    side_by_side: bool = False,
) -> tuple[Setup, Setup]:
    """Seed, start both servers, measure them round by round, stop them.

    ``side_by_side``: in each round both servers are loaded at the same time
    (so whatever else the machine does hits both alike); otherwise one after
    the other, the order rotated every round.
    """
    workdir = tempfile.mkdtemp(prefix="heliograph-bench-portal-")
    url = f"sqlite:///{os.path.join(workdir, 'bench.db')}"
    bare, subscribed = Setup("bare", 0), Setup("subscribed", subscribers)
    setups = [bare, subscribed]
    load: Clients | None = None
    try:
        seed(url, workdir)
        for setup in setups:
            start_server(setup, url, workdir, threads)
        load = Clients(clients * 2 if side_by_side else clients)
        both = [s.port for s in setups for _ in range(clients)]
        load.run(both if side_by_side else both[:clients], warmup)
        if not side_by_side:
            load.run(both[clients:], warmup)
        for number in range(rounds):
            if side_by_side:
                for setup, rate in zip(setups, load.run(both, duration), strict=True):
                    setup.rates.append(rate)
                continue
            for setup in setups if number % 2 == 0 else reversed(setups):
                setup.rates.append(load.run([setup.port] * clients, duration)[0])
    finally:
        if load is not None:
            load.close()
        for setup in setups:
            stop_server(setup)
        shutil.rmtree(workdir, ignore_errors=True)
    return bare, subscribed


def report(bare: Setup, subscribed: Setup) -> tuple[str, bool]:
    """The table and the verdict. Round ``i`` of both set-ups ran back to back,
    so the ratio of each round pair cancels the machine's slow drifts; the
    verdict is the median of those paired ratios."""
    paired = [s / b for s, b in zip(subscribed.rates, bare.rates, strict=True) if b > 0]
    ratio = statistics.median(paired)
    of_medians = statistics.median(subscribed.rates) / statistics.median(bare.rates)
    lines = [
        f"{'set-up':<12}{'receivers':>10}{'median req/s':>15}{'best req/s':>13}",
        *(
            f"{s.name:<12}{s.receivers:>10}{statistics.median(s.rates):>15.1f}{max(s.rates):>13.1f}"
            for s in (bare, subscribed)
        ),
        "",
        f"subscribed / bare: {ratio:.3f} (median of {len(paired)} paired rounds, "
        f"spread {min(paired):.3f}-{max(paired):.3f}; ratio of medians {of_medians:.3f}); "
        f"target >= {TARGET:.2f}",
    ]
    met = ratio >= TARGET
    lines.append("target met" if met else "target MISSED")
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
    parser.add_argument("--threads", type=int, default=4, help="waitress threads")
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=MAX_REQUESTS_PER_ROUND, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.client:
        client(args.limit)
        return 0

    if args.serve:
        serve(args.serve, args.instance, args.subscribers, args.threads)
        return 0

    rounds = args.rounds or (3 if args.quick else 40)
    duration = args.duration or (0.3 if args.quick else 0.75)
    print(
        f"package_show over HTTP (waitress, {args.threads} threads per server), "
        f"{args.clients} keep-alive client process(es) per server, {rounds} rounds of "
        f"{duration:g}s, {'side by side' if args.side_by_side else 'alternating'}; "
        f"subscribed = {args.subscribers} receivers on each core signal"
    )
    bare, subscribed = run(
        rounds=rounds,
        duration=duration,
        warmup=0.3 if args.quick else 1.0,
        clients=args.clients,
        threads=args.threads,
        subscribers=args.subscribers,
        side_by_side=args.side_by_side,
    )
    text, met = report(bare, subscribed)
    print()
    print(text)
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
