"""Loading and unloading while other threads send: no exception, no leaked receiver."""

from __future__ import annotations

import random
import threading
import typing as t

import pytest

import heliograph.plugins as p
from heliograph.signals import Signal

SIG = Signal(doc="thread test signal")
ROUNDS = 100
SENDERS = 4


def steady(sender: t.Any, **kwargs: t.Any) -> str:
    return "steady"


def _plugin(factory: t.Callable[[], t.Any]) -> type[p.Plugin]:
    class Made(p.Plugin):
        p.implements(p.ISignal)

        def get_signal_subscriptions(self) -> t.Any:
            return factory()

    return Made


def _fresh() -> t.Any:
    def fresh(sender: t.Any, **kwargs: t.Any) -> str:
        return "fresh"

    return {SIG: [fresh, {"receiver": fresh, "sender": 1}, {"receiver": steady, "sender": 2}]}


def _observer_plugin(iterations: list[int]) -> type[p.Plugin]:
    class Counter(p.SingletonPlugin):
        p.implements(p.IPluginObserver, inherit=True)

        def after_load(self, plugin: p.Plugin) -> None:
            iterations.append(1)

    return Counter


def _run(loaders: dict[str, int]) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()
    sends = [0]

    def sender() -> None:
        try:
            while not stop.is_set():
                for s in (None, 1, 2):
                    for _, result in SIG.send(s):
                        assert result in ("steady", "fresh"), result
                    sends[0] += 1
                # Reading the loaded plugins is safe at any time too.
                for plugin in p.PluginImplementations(p.ISignal):
                    assert plugin.name
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def loader(name: str, seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(ROUNDS):
                p.load(name)
                if rng.random() < 0.5:
                    SIG.send(1)
                p.unload(name)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    senders = [threading.Thread(target=sender) for _ in range(SENDERS)]
    workers = [threading.Thread(target=loader, args=(n, s)) for n, s in loaders.items()]
    for thread in senders + workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)
    stop.set()
    for thread in senders:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in senders + workers), "a thread hung"
    assert errors == []
    assert sends[0] > 0
    assert p.loaded_plugins() == ["counter"]
    assert not SIG.receivers, SIG.receiver_info()


@pytest.fixture
def thread_plugins() -> list[int]:
    iterations: list[int] = []
    p.register("steady_a", _plugin(lambda: {SIG: [steady]}))
    p.register("steady_b", _plugin(lambda: {SIG: [steady, {"receiver": steady, "sender": 1}]}))
    p.register("fresh", _plugin(_fresh))
    p.register("counter", _observer_plugin(iterations))
    p.load("counter")
    return iterations


def test_load_and_unload_while_other_threads_send(thread_plugins: list[int]) -> None:
    _run({"steady_a": 1, "steady_b": 2, "fresh": 3})
    assert len(thread_plugins) == 1 + 3 * ROUNDS  # its own after_load too


@pytest.mark.heliograph_strict(False)
def test_load_and_unload_while_other_threads_send_outside_strict_mode(
    thread_plugins: list[int],
) -> None:
    _run({"steady_a": 4, "steady_b": 5, "fresh": 6})
    assert len(thread_plugins) == 1 + 3 * ROUNDS  # its own after_load too
