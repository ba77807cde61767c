"""Random sequences of load and unload never leak nor lose a receiver."""

from __future__ import annotations

import typing as t

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import heliograph.plugins as p
from heliograph.signals import ANY, Signal

S1 = Signal(doc="stateful test signal 1")
S2 = Signal(doc="stateful test signal 2")
SENDERS = ("someone", 1, 2)

returned: dict[str, t.Any] = {}
"""The mapping each plugin returned at its last load: what it asked for."""


def shared_f(sender: t.Any, **kwargs: t.Any) -> str:
    return "f"


def shared_g(sender: t.Any, **kwargs: t.Any) -> str:
    return "g"


def closure() -> t.Callable[..., str]:
    def fresh(sender: t.Any, **kwargs: t.Any) -> str:
        return "fresh"

    return fresh


def _plugin(
    name: str, base: type[p.Plugin], factory: t.Callable[[], dict[Signal, list[t.Any]]]
) -> type[p.Plugin]:
    class Made(base):  # type: ignore[valid-type,misc]
        p.implements(p.ISignal)

        def get_signal_subscriptions(self) -> t.Any:
            mapping = factory()
            returned[name] = mapping
            return mapping

    Made.__qualname__ = Made.__name__ = f"Stateful_{name}"
    return Made


def _closures_c() -> dict[Signal, list[t.Any]]:
    fresh = closure()
    return {S1: [fresh, {"receiver": fresh, "sender": 1}], S2: [shared_g]}


def _closures_d() -> dict[Signal, list[t.Any]]:
    return {
        S2: [closure(), {"receiver": closure(), "sender": 2}],
        S1: [{"receiver": shared_g, "sender": 2}],
    }


PLUGINS: dict[str, type[p.Plugin]] = {
    "st_a": _plugin(
        "st_a", p.SingletonPlugin, lambda: {S1: [shared_f, {"receiver": shared_g, "sender": 1}]}
    ),
    "st_b": _plugin(
        "st_b", p.Plugin, lambda: {S1: [shared_f], S2: [{"receiver": shared_f, "sender": 2}]}
    ),
    "st_c": _plugin("st_c", p.SingletonPlugin, _closures_c),
    "st_d": _plugin("st_d", p.Plugin, _closures_d),
    "st_e": _plugin("st_e", p.Plugin, lambda: {S1: [shared_f, shared_f], S2: [shared_f]}),
}
NAMES = sorted(PLUGINS)


def _bad() -> dict[Signal, list[t.Any]]:
    return {S1: [shared_g, {"receiver": closure(), "sender": 1}], S2: [{"reciever": shared_f}]}


BAD = _plugin("st_bad", p.Plugin, _bad)


def expected(signal: Signal, sender: t.Any) -> dict[int, set[str]]:
    """id(receiver) -> owners: what the loaded plugins asked ``signal`` to call for ``sender``."""
    wanted: dict[int, set[str]] = {}
    for name in p.loaded_plugins():
        for entry in returned[name].get(signal, []):
            receiver, for_sender = (
                (entry["receiver"], entry.get("sender", ANY))
                if isinstance(entry, dict)
                else (entry, ANY)
            )
            if for_sender is ANY or for_sender == sender:
                wanted.setdefault(id(receiver), set()).add(name)
    return wanted


class PluginMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        for name, cls in PLUGINS.items():
            p.register(name, cls, replace=True)
        p.register("st_bad", BAD, replace=True)

    def teardown(self) -> None:
        p.unload_all()
        for name in [*PLUGINS, "st_bad"]:
            p.unregister(name)

    @rule(name=st.sampled_from(NAMES))
    def load(self, name: str) -> None:
        if p.plugin_loaded(name):
            return
        p.load(name)

    @rule(name=st.sampled_from(NAMES))
    def unload(self, name: str) -> None:
        if p.plugin_loaded(name):
            p.unload(name)

    @rule(names=st.lists(st.sampled_from(NAMES), unique=True, min_size=2, max_size=4))
    def load_several(self, names: list[str]) -> None:
        names = [n for n in names if not p.plugin_loaded(n)]
        p.load(*names)

    @rule(with_bad=st.booleans(), name=st.sampled_from(NAMES))
    def load_a_rejected_plugin(self, with_bad: bool, name: str) -> None:
        before = p.loaded_plugins()
        names = ["st_bad"] if p.plugin_loaded(name) else [name, "st_bad"]
        try:
            p.load(*names)
        except p.SignalSubscriptionError:
            pass
        else:  # pragma: no cover
            raise AssertionError("st_bad was accepted")
        assert p.loaded_plugins() == before

    @precondition(lambda self: bool(p.loaded_plugins()))
    @rule()
    def unload_all(self) -> None:
        p.unload_all()

    @invariant()
    def connected_is_exactly_what_loaded_plugins_asked_for(self) -> None:
        for signal in (S1, S2):
            for sender in SENDERS:
                want = expected(signal, sender)
                called = [id(receiver) for receiver in signal.receivers_for(sender)]
                assert len(called) == len(set(called)), "a receiver would be called twice"
                assert set(called) == set(want), (signal, sender, p.loaded_plugins())
            for info in signal.receiver_info():
                owners = set()
                for sender in SENDERS:
                    owners |= expected(signal, sender).get(id(info.receiver), set())
                assert set(info.owners) == owners
                assert not info.weak


PluginMachine.TestCase.settings = settings(max_examples=75, stateful_step_count=25, deadline=None)
TestPluginMachine = PluginMachine.TestCase
