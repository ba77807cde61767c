"""``heliograph worker``, ``heliograph relay`` and ``heliograph events``."""

from __future__ import annotations

import signal
import threading
import time
import typing as t

import click

from heliograph import events
from heliograph.events import admin, outbox
from heliograph.events.broker import BrokerError, open_broker
from heliograph.events.relay import Relay
from heliograph.events.runtime import Runtime

__all__ = ["events_group", "relay_command", "worker_command"]


def _app(config_file: str | None) -> t.Any:
    from heliograph.cli import _portal

    return _portal(config_file)


def _engine(app: t.Any) -> t.Any:
    from heliograph.web import EXTENSION_KEY

    return app.extensions[EXTENSION_KEY]["engine"]


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(_signum: int, _frame: t.Any) -> None:
        stop.set()
        outbox.notify()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def _config_option(fn: t.Any) -> t.Any:
    from heliograph.cli import config_option

    return config_option(fn)


@click.command("worker")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--drain", is_flag=True, help="Deliver what is due now, then exit.")
@_config_option
def worker_command(threads: int, drain: bool, config_file: str | None) -> None:
    """Deliver background events and jobs (and, with a broker, its partitions)."""
    app = _app(config_file)
    engine = _engine(app)
    if drain:
        count = events.Worker(engine).drain(timeout=3600)
        click.echo(f"delivered {count} event(s) due now")
        return
    stop = _stop_on_signals()
    runtime = Runtime(engine, worker=True, relay=False, threads=threads, stop_event=stop)
    runtime.start()
    click.echo(f"heliograph worker: {runtime.describe()} (Ctrl+C stops)")
    try:
        while not stop.wait(1.0):
            pass
    finally:
        runtime.stop()


@click.command("relay")
@click.option("--drain", is_flag=True, help="Relay what is committed now, then exit.")
@_config_option
def relay_command(drain: bool, config_file: str | None) -> None:
    """Move committed outbox rows to the broker (heliograph.events.broker)."""
    app = _app(config_file)
    engine = _engine(app)
    config = events.settings
    if not config.broker:
        raise click.ClickException(
            "heliograph.events.broker is empty: events are delivered from the portal's "
            "database and need no relay; set it to redis://... or nats://..."
        )
    try:
        broker = open_broker(
            config.broker, partitions=config.partitions, namespace=config.namespace
        )
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    relay = Relay(engine, broker)
    try:
        if drain:
            click.echo(f"relayed {relay.drain()} event(s) to {config.broker_shown}")
            return
        stop = _stop_on_signals()
        click.echo(f"heliograph relay: the outbox to {config.broker_shown} (Ctrl+C stops)")
        relay.run(stop)
    finally:
        broker.close()


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


@click.group("events", invoke_without_command=True)
@_config_option
@click.pass_context
def events_group(ctx: click.Context, config_file: str | None) -> None:
    """Background deliveries: pending, retrying and dead ones per receiver."""
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file
    if ctx.invoked_subcommand is None:
        ctx.invoke(summary_command)


@events_group.command("summary")
@click.pass_context
def summary_command(ctx: click.Context) -> None:
    """Per receiver and plugin: pending, retrying, running, dead, oldest pending."""
    engine = _engine(_app(ctx.obj.get("config_file")))
    with engine.connect() as connection:
        rows = admin.summary(connection)
    if not rows:
        click.echo("no deliveries waiting: every background event has been delivered")
        return
    header = ("receiver", "plugin", "pending", "retrying", "running", "dead", "oldest")
    table = [header] + [
        (
            (r.receiver + (" [job]" if r.kind == "job" else "")),
            r.owner or "-",
            str(r.pending),
            str(r.retrying),
            str(r.running),
            str(r.dead),
            _age(r.oldest_pending_seconds),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@events_group.command("list")
@click.option(
    "--state",
    type=click.Choice(["pending", "retrying", "running", "dead"]),
    default=None,
    help="Only deliveries in this state.",
)
@click.option("--receiver", default=None, help="Only this receiver (its dotted path).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@click.pass_context
def list_command(ctx: click.Context, state: str | None, receiver: str | None, limit: int) -> None:
    """The deliveries left, oldest first, with their last error."""
    engine = _engine(_app(ctx.obj.get("config_file")))
    with engine.connect() as connection:
        rows = admin.list_deliveries(connection, state=state, receiver=receiver, limit=limit)
    if not rows:
        click.echo("no such deliveries")
        return
    now = time.time()
    for row in rows:
        due = "" if row.state != "retrying" else f" next in {_age(row.next_attempt_at - now)}"
        click.echo(
            f"#{row.id} {row.state} attempts={row.attempts}{due} {row.receiver} "
            f"{row.signal} event={row.event_id} key={row.key}"
        )
        if row.error_line:
            click.echo(f"    {row.error_line}")


def _change(
    ctx: click.Context,
    action: str,
    ids: tuple[int, ...],
    receiver: str | None,
    all_: bool,
    state: str,
) -> None:
    if not ids and not receiver and not all_:
        raise click.UsageError("name delivery ids, --receiver PATH, or --all")
    engine = _engine(_app(ctx.obj.get("config_file")))
    with engine.begin() as connection:
        fn = admin.retry if action == "retry" else admin.discard
        count = fn(connection, ids=list(ids) or None, receiver=receiver, state=state)
    if action == "retry":
        outbox.notify()
        click.echo(f"{count} {state} deliver{'y' if count == 1 else 'ies'} will be retried now")
    else:
        click.echo(f"discarded {count} {state} deliver{'y' if count == 1 else 'ies'}")


_state_choice = click.option(
    "--state",
    type=click.Choice(["dead", "retrying"]),
    default="dead",
    show_default=True,
    help="Which deliveries.",
)


@events_group.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--receiver", default=None, help="Every such delivery of this receiver.")
@click.option("--all", "all_", is_flag=True, help="Every such delivery.")
@_state_choice
@click.pass_context
def retry_command(
    ctx: click.Context, ids: tuple[int, ...], receiver: str | None, all_: bool, state: str
) -> None:
    """Deliver dead (or retrying) deliveries again now, attempts counted afresh."""
    _change(ctx, "retry", ids, receiver, all_, state)


@events_group.command("discard")
@click.argument("ids", nargs=-1, type=int)
@click.option("--receiver", default=None, help="Every such delivery of this receiver.")
@click.option("--all", "all_", is_flag=True, help="Every such delivery.")
@_state_choice
@click.pass_context
def discard_command(
    ctx: click.Context, ids: tuple[int, ...], receiver: str | None, all_: bool, state: str
) -> None:
    """Delete dead (or retrying) deliveries for good."""
    _change(ctx, "discard", ids, receiver, all_, state)
