"""Smoke test of bench/portal.py: it seeds, serves, loads and reports a ratio,
for every case (package_show bare/subscribed, package_update activity off/on,
the read path against the bare Flask baseline with the server's memory).

Tiny rounds, so the figures mean nothing: nothing here asserts on timing.
"""

from __future__ import annotations

import statistics
from types import ModuleType

import pytest

BENCH = "portal.py"  # loaded by the suite's ``bench`` fixture


def test_subscribers_are_connected_to_every_core_signal(bench: ModuleType) -> None:
    from heliograph.lib import signals

    core = signals.catalog(include_undocumented=False)
    kept = bench.connect_subscribers(3)
    try:
        assert len(kept) == 3 * len(core)
        for entry in core:
            assert sum(r in entry.signal.receivers_for(None) for r in kept) == 3
    finally:
        for entry in core:
            for receiver in kept:
                entry.signal.disconnect(receiver)


@pytest.mark.parametrize("side_by_side", [False, True], ids=["alternating", "side-by-side"])
def test_bench_runs_both_setups_and_reports_the_ratio(
    bench: ModuleType, side_by_side: bool
) -> None:
    bare, subscribed, plain = bench.run(
        rounds=2, duration=0.1, warmup=0.1, clients=1, threads=2, side_by_side=side_by_side
    )
    assert bare.receivers == 0 and subscribed.receivers > 0
    assert plain.plain and plain.receivers == subscribed.receivers
    assert len(bare.rates) == len(subscribed.rates) == len(plain.rates) == 2
    assert min(bare.rates) > 0 and min(subscribed.rates) > 0 and min(plain.rates) > 0
    text, _met = bench.report(bare, subscribed, plain=plain)
    assert "subscribed / bare" in text
    assert "plain / bare" in text and "subscribed / plain" in text


def test_plain_dispatch_calls_the_same_receivers_with_the_same_arguments(
    bench: ModuleType,
) -> None:
    from heliograph.lib import signals

    core = signals.catalog(include_undocumented=False)
    kept = bench.connect_subscribers(2)
    installed = {entry.name: entry.signal.__dict__.get("send") for entry in core}
    expected = signals.before_action.send("package_show", context={}, data_dict={"id": "x"})
    try:
        assert bench.plain_dispatch() == len(core)
        assert "plain_dispatch" in signals.before_action.send.__qualname__
        got = signals.before_action.send("package_show", context={}, data_dict={"id": "x"})
        assert got == expected and len(got) == 2
    finally:
        for entry in core:
            if installed[entry.name] is None:
                entry.signal.__dict__.pop("send", None)
            else:
                entry.signal.send = installed[entry.name]
            for receiver in kept:
                entry.signal.disconnect(receiver)


def test_update_case_compares_the_activity_plugin_on_and_off(bench: ModuleType) -> None:
    off, on = bench.run(rounds=2, duration=0.2, warmup=0.1, threads=2, case="update")
    assert (off.name, on.name) == ("off", "on")
    assert len(off.rates) == len(on.rates) == 2
    assert min(off.rates) > 0 and min(on.rates) > 0
    assert off.activities is None  # no plugin, no activity table
    assert on.activities is not None and on.activities > 0
    text, met = bench.report(off, on, bench.UPDATE_TARGET)
    ratio = statistics.median(o / f for o, f in zip(on.rates, off.rates, strict=True))
    assert f"on / off: {ratio:.3f}" in text
    assert "off: no activity table" in text
    assert isinstance(met, bool)


def test_read_case_compares_each_kind_with_the_bare_baseline(bench: ModuleType) -> None:
    series, memory = bench.run_read(
        databases=("sqlite",),
        client_counts=(1,),
        rounds=1,
        duration=0.1,
        warmup=0.05,
        threads=2,
        count=3,
        memory_requests=8,
    )
    assert [entry.kind for entry in series] == list(bench.READ_KINDS)
    for entry in series:
        assert entry.size > 0 and min(entry.portal) > 0 and min(entry.bare) > 0
    (used,) = memory
    assert used.requests == 8 and used.after_mb > 0
    text, met = bench.report_read(series, memory)
    for kind in bench.READ_KINDS:
        assert kind in text
    assert "server RSS" in text and isinstance(met, bool)
