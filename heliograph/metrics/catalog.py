"""The live signal catalog: every signal with its receivers, owners, sends,
failures and receiver timings, as this portal counts them.

What the ``signal_catalog_show`` action returns, the ``/ckan-admin`` page
shows and ``heliograph signals --url`` prints. Counts and timings come from
the metrics, so with several processes (``PROMETHEUS_MULTIPROC_DIR``) they
are those of all of them; a receiver's ``failures`` (since it was connected)
and the sends per minute are the answering process's.
"""

from __future__ import annotations

import datetime as dt
import os
import typing as t

from heliograph import metrics
from heliograph.lib import signals as lib_signals
from heliograph.plugins import background
from heliograph.signals import ANY

__all__ = ["live_catalog", "receiver_timing", "set_receiver_timing", "slowest_receivers"]

_timing = {"on": False}


def receiver_timing() -> bool:
    """Whether receiver calls are being timed (``heliograph.metrics.receiver_timing``)."""
    return _timing["on"]


def set_receiver_timing(on: bool) -> None:
    _timing["on"] = bool(on)


Key = tuple[str, str, str]


class _Values:
    """The metric samples the catalog needs, by label."""

    def __init__(self) -> None:
        self.sends: dict[str, float] = {}
        self.failures: dict[str, float] = {}
        self.calls: dict[Key, float] = {}
        self.seconds: dict[Key, float] = {}
        self.buckets: dict[Key, list[tuple[float, float]]] = {}
        for family in metrics.collect():
            for sample in family.samples:
                labels = sample.labels
                name = sample.name
                if name == "heliograph_signal_sends_total":
                    self.sends[labels["signal"]] = sample.value
                elif name == "heliograph_signal_failures_total":
                    self.failures[labels["signal"]] = sample.value
                elif name.startswith("heliograph_receiver_"):
                    self._receiver_sample(name, labels, sample.value)

    def _receiver_sample(self, name: str, labels: dict[str, str], value: float) -> None:
        try:
            key = (labels["signal"], labels["receiver"], labels["plugin"])
        except KeyError:
            return
        if name == "heliograph_receiver_duration_seconds_count":
            self.calls[key] = value
        elif name == "heliograph_receiver_duration_seconds_sum":
            self.seconds[key] = value
        elif name == "heliograph_receiver_duration_seconds_bucket":
            bound = float(labels["le"])
            self.buckets.setdefault(key, []).append((bound, value))


def _quantile(buckets: list[tuple[float, float]], count: float, q: float) -> float | None:
    """The upper bound of the bucket holding the ``q`` quantile (None: beyond them)."""
    if not count:
        return None
    for bound, cumulative in sorted(buckets):
        if cumulative >= q * count:
            return None if bound == float("inf") else bound
    return None


def _timings(values: _Values, key: Key) -> dict[str, t.Any]:
    calls = int(values.calls.get(key, 0))
    total = values.seconds.get(key, 0.0)
    return {
        "calls": calls,
        "seconds_total": total,
        "seconds_mean": total / calls if calls else None,
        "seconds_p95_at_most": _quantile(values.buckets.get(key, []), calls, 0.95),
    }


def _sender(value: t.Any) -> str:
    return "any sender" if value is ANY else repr(value)


def live_catalog() -> dict[str, t.Any]:
    """The catalog as plain data (JSON-ready); see the module documentation."""
    values = _Values()
    rows = []
    for entry in lib_signals.catalog():
        label = f"{entry.namespace}.{entry.name}"
        contract = entry.contract
        receivers = []
        for info in entry.signal.receiver_info():
            if background.OWNER in info.owners:
                continue
            key = (label, info.name, metrics.owner_label(info.owners))
            receivers.append(
                {
                    "name": info.name,
                    "senders": [_sender(s) for s in info.senders],
                    "owners": [o if isinstance(o, str) else "direct" for o in info.owners],
                    "background": False,
                    "failures": info.failures,
                    **_timings(values, key),
                }
            )
        for sub in background.subscriptions(entry.signal):
            receivers.append(
                {
                    "name": sub.path,
                    "senders": [_sender(sub.sender)],
                    "owners": [sub.owner],
                    "background": True,
                    "failures": 0,
                    "calls": 0,
                    "seconds_total": 0.0,
                    "seconds_mean": None,
                    "seconds_p95_at_most": None,
                }
            )
        rows.append(
            {
                "namespace": entry.namespace,
                "name": entry.name,
                "aliases": list(entry.aliases),
                "signature": contract.signature() if contract else "(sender, **kwargs)",
                "sent_when": contract.sent_when if contract else None,
                "policy": entry.signal.policy,
                "sent": int(values.sends.get(label, 0)),
                "failed": int(values.failures.get(label, 0)),
                "receivers": receivers,
            }
        )
    return {
        "receiver_timing": receiver_timing(),
        "multiprocess": metrics.multiprocess_dir() is not None,
        "pid": os.getpid(),
        "signals": rows,
        "sends_per_minute": [
            {
                "minute": dt.datetime.fromtimestamp(minute * 60, dt.UTC).strftime(
                    "%Y-%m-%dT%H:%MZ"
                ),
                "sent": sent,
            }
            for minute, sent in metrics.sends_per_minute()
        ],
    }


def slowest_receivers(catalog: dict[str, t.Any], limit: int = 10) -> list[dict[str, t.Any]]:
    """The receivers of ``catalog`` with the longest mean call, slowest first."""
    found = [
        {"signal": f"{row['namespace']}.{row['name']}", **receiver}
        for row in catalog["signals"]
        for receiver in row["receivers"]
        if receiver["calls"]
    ]
    found.sort(key=lambda r: r["seconds_mean"], reverse=True)
    return found[:limit]


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.3f} ms"


def render_text(catalog: dict[str, t.Any]) -> str:
    """A live catalog (:func:`live_catalog`, or the action's result) as a terminal listing."""
    out: list[str] = []
    timing = "on" if catalog.get("receiver_timing") else "off"
    processes = "every process" if catalog.get("multiprocess") else f"process {catalog.get('pid')}"
    out.append(f"live catalog of {processes}; receiver timing {timing}")
    current = None
    for row in catalog.get("signals", []):
        if row["namespace"] != current:
            current = row["namespace"]
            out.append(f"namespace {current}")
        aliases = f" [also {', '.join(row['aliases'])}]" if row.get("aliases") else ""
        out.append(
            f"  {row['name']}{row['signature']}{aliases}  policy={row['policy']}"
            f" sent={row['sent']} failed={row['failed']}"
        )
        receivers = row.get("receivers", [])
        out.append(f"      receivers: {len(receivers) or 'none'}")
        for r in receivers:
            name = f"{r['name']} [background]" if r.get("background") else r["name"]
            line = (
                f"        - {name} (senders: {', '.join(r['senders'])}; "
                f"connected by: {', '.join(r['owners'])}; failures: {r['failures']}"
            )
            if r.get("calls"):
                line += (
                    f"; calls: {r['calls']}, mean {_ms(r['seconds_mean'])}, "
                    f"p95 <= {_ms(r['seconds_p95_at_most'])}"
                )
            out.append(line + ")")
    return "\n".join(out) + "\n"
