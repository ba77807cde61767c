"""Webhooks benchmark: deliveries per second against a plain POST loop, and the
``package_update`` overhead of 100 hooks, in one run.

Run it with ``.venv/bin/python bench/webhooks.py`` (``--quick`` for a rough
look, ``--db postgresql`` for the PostgreSQL outbox, ``--check`` to exit 1
when a target is missed). Every figure is measured in this run:

1. **deliveries per second** to a loopback receiver (an HTTP/1.1 server in a
   process of its own) with 1, 10 and 100 hooks subscribed to the same
   events: the events are committed first, then the clock runs while one
   worker thread delivers all of them (claiming, visibility, signing, the
   POSTs, the delivery log written). The baseline is a plain ``requests``
   POST loop, in this process, of the same bodies to the same URLs, one
   request after the other on a kept-alive connection. The two run in
   interleaved pairs of rounds; the figure is the median of the pairs'
   ratios (a busy machine slows both of a pair alike). Target: heliograph at
   least 80% of the loop.
2. **the request overhead**: ``package_update`` calls per second (through the
   action layer, in this process) with 100 hooks subscribed against none
   (the plugin loaded in both: the one outbox row is written either way and
   the fan-out happens in the worker). Target: at least 90%. The same
   against no plugin at all is printed too, for information.
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import uuid

if __package__ in (None, ""):  # run as a script from a checkout: find the package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

POSTGRES_URL = os.environ.get(
    "HELIOGRAPH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DELIVERY_TARGET = 0.80
OVERHEAD_TARGET = 0.90
HOOK_COUNTS = (1, 10, 100)


# -- the receiver -------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        size = int(self.headers.get("content-length") or 0)
        self.rfile.read(size)
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    def log_message(self, *args: t.Any) -> None:
        pass


def serve(port: int) -> None:
    """Run the receiver on 127.0.0.1:``port`` until killed."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    server.serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_receiver() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", str(port)])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise RuntimeError("the receiver did not start")


# -- the portal ------------------------------------------------------------------------


class Portal:
    """A migrated database with the webhooks plugin loaded and one user."""

    def __init__(self, kind: str, workdir: str, port: int) -> None:
        import sqlalchemy as sa

        import heliograph.plugins as p
        import heliograph.plugins.toolkit as tk
        from heliograph import logic, model
        from heliograph.logic import users
        from heliograph.model import engine_for, migrate
        from heliograph.model.migrate import upgrade_plugins

        self.schema: str | None = None
        if kind == "sqlite":
            self.engine = engine_for(f"sqlite:///{os.path.join(workdir, 'webhooks.db')}")
        else:
            self.schema = f"heliograph_bench_{uuid.uuid4().hex[:10]}"
            admin = engine_for(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{self.schema}"'))
            admin.dispose()
            url = sa.make_url(engine_for(POSTGRES_URL).url).update_query_dict(
                {"options": f"-csearch_path={self.schema}"}
            )
            self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10)
        migrate.upgrade(self.engine)
        model.init_engine(self.engine)
        upgrade_plugins(self.engine, ["webhooks"])
        self.config_before = dict(tk.config)
        tk.config.update(
            {
                "heliograph.webhooks.allow_http": "true",
                "heliograph.webhooks.allowed_networks": "127.0.0.1/32",
                "heliograph.instance_path": workdir,
            }
        )
        p.load("webhooks")
        logic.registry.reset()
        self.port = port
        session = model.Session()
        users.create_user(session, name="bench", email="bench@example.org", password=None)
        session.commit()
        self.org = self.call("organization_create", {"name": "bench-org"})
        self.dataset = self.call(
            "package_create",
            {
                "name": "bench-dataset",
                "owner_org": self.org["id"],
                "notes": "A dataset of the benchmark",
                "tags": [{"name": "bench"}],
                "resources": [{"url": "http://example.org/data.csv", "name": "Data"}],
            },
        )
        self.drain()

    def call(self, name: str, data: dict[str, t.Any]) -> t.Any:
        from heliograph import logic, model

        return logic.get_action(name)({"user": "bench", "session": model.Session}, data)

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{n}"

    def set_hooks(self, count: int) -> None:
        for existing in self.call("webhook_list", {}):
            self.call("webhook_delete", {"id": existing["id"]})
        for n in range(count):
            self.call("webhook_create", {"url": self.url(n), "topics": ["dataset/update"]})

    def drain(self) -> int:
        from heliograph.events import Worker
        from heliograph.ext.webhooks import delivery

        count = Worker(self.engine).drain(timeout=3600)
        delivery.flush_log()
        return count

    def commit_events(self, count: int, objects: int = 500) -> None:
        """``count`` ``package_update`` events about ``objects`` datasets (the
        bench dataset's dict under other ids), 100 to a transaction."""
        import heliograph.plugins.toolkit as tk
        from heliograph import model
        from heliograph.events import outbox

        session = model.Session()
        ids = [str(uuid.uuid4()) for _ in range(objects)]
        for start in range(0, count, 100):
            scope = outbox.begin(session)
            for n in range(start, min(count, start + 100)):
                tk.signals.action_succeeded.send(
                    "package_update",
                    context={"user": "bench"},
                    data_dict={"id": ids[n % objects]},
                    result={**self.dataset, "id": ids[n % objects], "notes": f"change {n}"},
                )
            session.commit()
            scope.close(committed=True)

    def attempts(self) -> int:
        import sqlalchemy as sa

        from heliograph.ext.webhooks.tables import webhook_attempt

        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(webhook_attempt)).scalar() or 0
            )

    def close(self) -> None:
        import sqlalchemy as sa

        import heliograph.plugins as p
        import heliograph.plugins.toolkit as tk
        from heliograph import logic, model

        if p.plugin_loaded("webhooks"):
            p.unload("webhooks")
        logic.registry.reset()
        tk.config.clear()
        tk.config.update(self.config_before)
        model.Session.remove()
        self.engine.dispose()
        if self.schema:
            from heliograph.model import engine_for

            admin = engine_for(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            admin.dispose()


# -- the measurements ----------------------------------------------------------------


def delivery_rate(portal: Portal, hooks: int, events: int) -> tuple[float, int]:
    """Deliveries per second of one worker thread: ``events`` committed
    events to ``hooks`` hooks; returns (rate, deliveries)."""
    if len(portal.call("webhook_list", {})) != hooks:
        portal.set_hooks(hooks)
        portal.drain()
    before = portal.attempts()
    portal.commit_events(events)
    started = time.perf_counter()
    portal.drain()
    elapsed = time.perf_counter() - started
    delivered = portal.attempts() - before
    if delivered != hooks * events:
        raise RuntimeError(
            f"{delivered} deliveries logged, {hooks * events} expected ({hooks} hooks)"
        )
    return delivered / elapsed, delivered


def plain_rate(portal: Portal, hooks: int, events: int) -> float:
    """A plain ``requests`` loop: the same number of POSTs of a message's body
    to the same URLs, one after the other on one session."""
    import json

    import requests

    body = json.dumps(
        {"type": "dataset/update", "timestamp": "2026-01-01T00:00:00Z", "data": portal.dataset},
        separators=(",", ":"),
    ).encode()
    urls = [portal.url(n) for n in range(hooks)]
    session = requests.Session()
    session.trust_env = False
    headers = {"content-type": "application/json"}
    session.post(urls[0], data=body, headers=headers).close()  # connect first
    started = time.perf_counter()
    for _ in range(events):
        for url in urls:
            answer = session.post(url, data=body, headers=headers, allow_redirects=False)
            answer.content  # noqa: B018 - read the response as the worker does
    elapsed = time.perf_counter() - started
    session.close()
    return hooks * events / elapsed


def update_rate(portal: Portal, calls: int) -> float:
    """``package_update`` calls per second through the action layer."""
    data = portal.call("package_show", {"id": portal.dataset["id"]})
    started = time.perf_counter()
    for n in range(calls):
        data["notes"] = f"update {n} {uuid.uuid4().hex[:6]}"
        portal.call("package_update", data)
    return calls / (time.perf_counter() - started)


def discard_events(portal: Portal) -> None:
    """Forget the events written and not delivered (the overhead rounds'
    deliveries are not what they measure)."""
    import sqlalchemy as sa

    with portal.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM event_delivery"))
        conn.execute(sa.text("DELETE FROM event_outbox"))


def overhead(portal: Portal, calls: int, rounds: int) -> dict[str, float]:
    """``package_update`` rates with 100 hooks, with none, and without the
    plugin (medians of ``rounds`` interleaved rounds), and the medians of each
    round's ratios (``hooks/none``, ``hooks/bare``)."""
    import heliograph.plugins as p
    from heliograph import logic

    results: dict[str, list[float]] = {"hooks": [], "none": [], "bare": []}
    update_rate(portal, max(5, calls // 10))  # warm up
    discard_events(portal)
    for n in range(rounds):
        order = ("hooks", "none", "bare") if n % 2 else ("none", "hooks", "bare")
        for case in order:
            portal.set_hooks(100 if case == "hooks" else 0)
            if case == "bare":
                p.unload("webhooks")
                logic.registry.reset()
            results[case].append(update_rate(portal, calls))
            if case == "bare":
                p.load("webhooks")
                logic.registry.reset()
            discard_events(portal)
    portal.set_hooks(0)
    pairs = list(zip(results["hooks"], results["none"], results["bare"], strict=True))
    return {
        "hooks": statistics.median(results["hooks"]),
        "none": statistics.median(results["none"]),
        "bare": statistics.median(results["bare"]),
        "ratio": statistics.median(h / none for h, none, _b in pairs),
        "ratio_bare": statistics.median(h / bare for h, _n, bare in pairs),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer events, a rough look")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    import logging

    logging.basicConfig(level=logging.WARNING)
    per_round = 200 if args.quick else 300
    receiver, port = start_receiver()
    missed = False
    with tempfile.TemporaryDirectory() as workdir:
        portal = Portal(args.db, workdir, port)
        try:
            print(f"webhooks on {args.db}, one worker thread, receiver on 127.0.0.1:{port}")
            rounds = 5 if args.quick else 15
            for hooks in HOOK_COUNTS:
                events = max(2, per_round // hooks)
                ours_rates, plain_rates, ratios, delivered = [], [], [], 0
                for n in range(rounds):  # interleaved pairs: a busy machine slows both alike
                    if n % 2:
                        plain_rates.append(plain_rate(portal, hooks, events))
                    rate, count = delivery_rate(portal, hooks, events)
                    ours_rates.append(rate)
                    delivered += count
                    if not n % 2:
                        plain_rates.append(plain_rate(portal, hooks, events))
                    ratios.append(ours_rates[-1] / plain_rates[-1])
                ours, plain = statistics.median(ours_rates), statistics.median(plain_rates)
                ratio = statistics.median(ratios)
                ok = ratio >= DELIVERY_TARGET
                missed |= not ok
                print(
                    f"  {hooks:3d} hook(s), {delivered} deliveries: {ours:8.0f}/s  plain POST "
                    f"loop {plain:8.0f}/s  ratio {ratio:.2f} (target >= {DELIVERY_TARGET:.2f})"
                    f"{'' if ok else '  MISSED'}"
                )
            calls, rounds = (20, 3) if args.quick else (40, 9)
            found = overhead(portal, calls, rounds)
            ok = found["ratio"] >= OVERHEAD_TARGET
            missed |= not ok
            print(
                f"  package_update: 100 hooks {found['hooks']:.0f}/s, no hooks "
                f"{found['none']:.0f}/s: ratio {found['ratio']:.2f} "
                f"(target >= {OVERHEAD_TARGET:.2f}){'' if ok else '  MISSED'}"
            )
            print(
                f"  package_update without the plugin {found['bare']:.0f}/s: 100 hooks are "
                f"{found['ratio_bare']:.2f} of it (the outbox row; for information)"
            )
        finally:
            portal.close()
            receiver.kill()
            receiver.wait()
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
