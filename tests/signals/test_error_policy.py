"""The error policy: 'raise' (blinker's) and 'isolate', and the global switch."""

from __future__ import annotations

import collections.abc as c
import logging
import typing as t

import pytest

from heliograph import signals
from heliograph.signals import ISOLATE, RAISE, NamedSignal, Namespace, Signal, receiver_failed

if t.TYPE_CHECKING:
    from tests.signals.signal_helpers import Calls


class Boom(Exception):
    pass


def failing(sender: t.Any, **kwargs: t.Any) -> None:
    raise Boom(f"failed for {sender}")


def failing_name() -> str:
    return f"{failing.__module__}.{failing.__qualname__}"


class Plugin:
    def __init__(self) -> None:
        self.seen: list[t.Any] = []

    def fail(self, sender: t.Any, **kwargs: t.Any) -> None:
        raise Boom("method failed")

    def record(self, sender: t.Any, **kwargs: t.Any) -> str:
        self.seen.append(sender)
        return "recorded"


@pytest.fixture
def failures() -> c.Iterator[list[tuple[t.Any, dict[str, t.Any]]]]:
    """What the global receiver_failed meta-signal announced during the test."""
    seen: list[tuple[t.Any, dict[str, t.Any]]] = []

    def monitor(signal: t.Any, **kwargs: t.Any) -> None:
        seen.append((signal, kwargs))

    with receiver_failed.connected_to(monitor):
        yield seen


# -- 'raise' ------------------------------------------------------------------------


def test_a_plain_signal_uses_the_raise_policy() -> None:
    assert Signal().policy == RAISE
    assert NamedSignal("n").policy == RAISE


def test_raise_policy_propagates_the_error_and_stops_calling_receivers(
    sig: Signal, calls: Calls
) -> None:
    sig.connect(calls.receiver("before"))
    sig.connect(failing)
    sig.connect(calls.receiver("after"))
    with pytest.raises(Boom, match="failed for x"):
        sig.send("x")
    assert calls.labels == ["before"]


def test_raise_policy_propagates_for_receivers_filtered_by_sender(
    sig: Signal, calls: Calls
) -> None:
    sig.connect(failing, "a")
    sig.connect(calls.receiver("after"), "a")
    with pytest.raises(Boom):
        sig.send("a")
    assert calls == []


def test_raise_policy_does_not_count_or_announce_failures(
    sig: Signal, failures: list[t.Any]
) -> None:
    sig.connect(failing)
    with pytest.raises(Boom):
        sig.send("x")
    assert sig.stats().failed == 0
    assert failures == []


# -- 'isolate' ----------------------------------------------------------------------


@pytest.mark.parametrize("filtered", [False, True], ids=["any-sender", "per-sender"])
def test_isolate_calls_every_receiver_and_returns_the_exception_as_result(
    isolating: NamedSignal, calls: Calls, filtered: bool
) -> None:
    sender = "a" if filtered else isolating.ANY
    before = isolating.connect(calls.receiver("before"), sender)
    isolating.connect(failing, sender)
    after = isolating.connect(calls.receiver("after"), sender)
    results = isolating.send("a")
    assert [receiver for receiver, _ in results] == [before, failing, after]
    assert isinstance(results[1][1], Boom)
    assert str(results[1][1]) == "failed for a"
    assert calls.labels == ["before", "after"]


def test_isolate_keeps_calling_receivers_after_several_failures(
    isolating: NamedSignal, calls: Calls
) -> None:
    isolating.connect(failing)
    isolating.connect(calls.receiver("middle"))
    isolating.connect(failing, "a")
    isolating.connect(calls.receiver("last"))
    results = isolating.send("a")
    assert calls.labels == ["middle", "last"]
    assert [type(value) for _, value in results] == [Boom, str, str]


def test_isolate_keeps_calling_receivers_after_a_weak_bound_method_fails(
    isolating: NamedSignal, calls: Calls
) -> None:
    plugin = Plugin()
    isolating.connect(plugin.fail)
    isolating.connect(calls.receiver("after"))
    isolating.connect(plugin.record)
    results = isolating.send("x")
    assert calls.labels == ["after"]
    assert plugin.seen == ["x"]
    assert [value for _, value in results][1:] == ["after", "recorded"]


def test_isolate_logs_receiver_signal_and_traceback(
    isolating: NamedSignal, caplog: pytest.LogCaptureFixture
) -> None:
    isolating.connect(failing)
    with caplog.at_level(logging.ERROR, logger="heliograph.signals"):
        isolating.send("the-sender")
    (record,) = caplog.records
    message = record.getMessage()
    assert failing_name() in message
    assert "test_isolating" in message
    assert "'the-sender'" in message
    assert "Boom: failed for the-sender" in message
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and record.exc_info[1] is not None
    assert "Traceback" in caplog.text
    assert 'raise Boom(f"failed for {sender}")' in caplog.text


def test_isolate_logs_the_owning_plugin(
    isolating: NamedSignal, caplog: pytest.LogCaptureFixture
) -> None:
    isolating.connect(failing, owner="ckanext-example")
    isolating.send("x")
    assert "(plugin ckanext-example)" in caplog.records[0].getMessage()


def test_isolate_counts_failures_in_stats_and_receiver_info(isolating: NamedSignal) -> None:
    plugin = Plugin()
    isolating.connect(failing)
    isolating.connect(plugin.record)
    isolating.send("x")
    isolating.send("y")
    assert isolating.stats() == signals.SignalStats(sent=2, failed=2)
    failures_by_name = {info.name: info.failures for info in isolating.receiver_info()}
    assert failures_by_name == {failing_name(): 2, f"{__name__}.Plugin.record": 0}


def test_isolate_announces_failures_on_receiver_failed(
    isolating: NamedSignal, failures: list[tuple[t.Any, dict[str, t.Any]]]
) -> None:
    isolating.connect(failing, owner="ckanext-example")
    (results,) = [isolating.send("the-sender", n=1)]
    (announced,) = failures
    signal, kwargs = announced
    assert signal is isolating
    assert set(kwargs) == {"receiver", "sender_", "exception", "owners"}
    assert kwargs["receiver"] is failing
    assert kwargs["sender_"] == "the-sender"
    assert kwargs["exception"] is results[0][1]
    assert kwargs["owners"] == ("ckanext-example",)


def test_receiver_failed_reports_no_owners_for_direct_connections(
    isolating: NamedSignal, failures: list[tuple[t.Any, dict[str, t.Any]]]
) -> None:
    isolating.connect(failing)
    isolating.send("x")
    assert failures[0][1]["owners"] == ()


def test_a_failing_receiver_failed_subscriber_does_not_recurse(
    isolating: NamedSignal, caplog: pytest.LogCaptureFixture
) -> None:
    monitor_calls = []

    def broken_monitor(signal: t.Any, **kwargs: t.Any) -> None:
        monitor_calls.append(signal)
        raise RuntimeError("monitor broke")

    isolating.connect(failing)
    with receiver_failed.connected_to(broken_monitor):
        results = isolating.send("x")
    assert isinstance(results[0][1], Boom)
    assert monitor_calls == [isolating]
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "monitor broke" in messages[1]
    assert "receiver_failed" in messages[1]


def test_receiver_failed_is_an_isolating_named_signal() -> None:
    assert receiver_failed.name == "receiver_failed"
    assert receiver_failed.policy == ISOLATE
    assert "sender_" in (receiver_failed.__doc__ or "")


# -- the global switch and policy names ---------------------------------------------


def test_isolate_failures_false_makes_isolating_signals_raise(
    isolating: NamedSignal, calls: Calls
) -> None:
    isolating.connect(failing)
    isolating.connect(calls.receiver("after"))
    assert signals.isolate_failures(False) is True
    with pytest.raises(Boom):
        isolating.send("x")
    assert calls == []
    assert signals.isolate_failures(True) is False
    isolating.send("x")
    assert calls.labels == ["after"]


def test_isolate_failures_false_also_raises_for_per_sender_receivers(
    isolating: NamedSignal,
) -> None:
    isolating.connect(failing, "a")
    signals.isolate_failures(False)
    with pytest.raises(Boom):
        isolating.send("a")


def test_strict_raises_failures_inside_the_block_only(isolating: NamedSignal) -> None:
    isolating.connect(failing)
    with signals.strict():
        assert signals.settings() == {
            "isolate_failures": False,
            "guard_arguments": True,
            "receiver_observer": None,
            "send_observer": None,
        }
        with pytest.raises(Boom):
            isolating.send("x")
    assert signals.settings() == {
        "isolate_failures": True,
        "guard_arguments": False,
        "receiver_observer": None,
        "send_observer": None,
    }
    assert isinstance(isolating.send("x")[0][1], Boom)


def test_strict_can_leave_isolation_on(isolating: NamedSignal) -> None:
    isolating.connect(failing)
    with signals.strict(raise_failures=False):
        assert isinstance(isolating.send("x")[0][1], Boom)


@pytest.mark.parametrize("name", ["ignore", "RAISE", ""])
def test_an_unknown_policy_name_is_refused_by_name(name: str) -> None:
    with pytest.raises(ValueError, match=repr(name)):
        Signal(policy=name)
    with pytest.raises(ValueError, match="'raise' or 'isolate'"):
        NamedSignal("n", policy=name)
    with pytest.raises(ValueError, match=repr(name)):
        Namespace().signal("n", policy=name)
    sig = Signal()
    with pytest.raises(ValueError, match=repr(name)):
        sig.policy = name
    assert sig.policy == RAISE


def test_the_policy_can_be_changed_on_a_live_signal(sig: Signal, calls: Calls) -> None:
    sig.connect(failing)
    sig.connect(calls.receiver("after"))
    sig.policy = ISOLATE
    sig.send("x")
    assert calls.labels == ["after"]
    sig.policy = RAISE
    with pytest.raises(Boom):
        sig.send("x")
