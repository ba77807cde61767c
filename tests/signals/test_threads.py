"""Connect, disconnect and send from several threads at once: nothing raises,
no receiver is lost, and the order of the receivers that stay is kept."""

from __future__ import annotations

import gc
import itertools
import logging
import random
import sys
import threading
import typing as t

import pytest

from heliograph.signals import ISOLATE, RAISE, Signal

THREADS = 4
OPERATIONS = 1500
TIMEOUT = 30.0


class Transient:
    """A short-lived receiver owner; ``cyclic`` ones die only in the cyclic collector."""

    def __init__(self, cyclic: bool) -> None:
        if cyclic:
            self.me = self

    def on_signal(self, sender: t.Any, **kwargs: t.Any) -> str:
        return "transient"


@pytest.fixture(autouse=True)
def frequent_thread_switches() -> t.Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.fixture(autouse=True)
def quiet_failures() -> t.Iterator[None]:
    """Isolated failures are expected here by the thousand; keep them out of the log."""
    logger = logging.getLogger("heliograph.signals.base")
    was_disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = was_disabled


@pytest.mark.parametrize("policy", [RAISE, ISOLATE])
def test_concurrent_connect_disconnect_and_send_lose_no_receiver(policy: str) -> None:
    sig = Signal(policy=policy)
    senders = ["dataset", "group", 7, object()]

    def stable(label: str, fails: bool = False) -> t.Callable[..., str]:
        def receiver(sender: t.Any, **kwargs: t.Any) -> str:
            if fails:
                raise ValueError(label)
            return label

        return receiver

    # Receivers that stay connected the whole time, for every sender or one.
    stable_any = [sig.connect(stable(f"any{i}")) for i in range(3)]
    stable_dataset = sig.connect(stable("dataset"), "dataset", weak=False)
    expected_any = [f"any{i}" for i in range(3)]

    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def churn(seed: int) -> None:
        rng = random.Random(seed)
        strong: list[tuple[t.Any, t.Any]] = []
        try:
            start.wait()
            for step in range(OPERATIONS):
                action = rng.random()
                sender = rng.choice([*senders, sig.ANY])
                if action < 0.4:
                    receiver = Transient(cyclic=rng.random() < 0.3).on_signal
                    sig.connect(receiver, sender)  # weak: gone when collected
                elif action < 0.7:
                    # Under 'isolate' some of them fail: the others still run.
                    fails = policy == ISOLATE and rng.random() < 0.2
                    receiver = stable(f"strong{seed}-{step}", fails)
                    sig.connect(receiver, sender, weak=False)
                    strong.append((receiver, sender))
                elif strong:
                    receiver, sender = strong.pop(rng.randrange(len(strong)))
                    sig.disconnect(receiver, sender)
                if step % 200 == 0:
                    gc.collect()
            for receiver, sender in strong:
                sig.disconnect(receiver, sender)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    def send(seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for _ in range(OPERATIONS):
                sender = rng.choice(senders)
                labels = [value for _, value in sig.send(sender)]
                kept = [label for label in labels if label in expected_any or label == "dataset"]
                wanted = [*expected_any, "dataset"] if sender == "dataset" else expected_any
                assert kept == wanted, (sender, labels)
                assert sig.has_receivers_for(sender)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [
        threading.Thread(target=churn, args=(1,)),
        threading.Thread(target=churn, args=(2,)),
        threading.Thread(target=send, args=(3,)),
        threading.Thread(target=send, args=(4,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    assert errors == []

    gc.collect()
    assert [info.receiver for info in sig.receiver_info()] == [*stable_any, stable_dataset]
    assert [value for _, value in sig.send("dataset")] == [*expected_any, "dataset"]
    assert sig.stats().sent == 2 * OPERATIONS + 1


@pytest.mark.parametrize("for_sender", [False, True], ids=["for-any", "for-a-sender"])
def test_no_send_started_after_a_disconnect_returned_calls_that_receiver(
    for_sender: bool,
) -> None:
    sig = Signal()
    sender = "dataset"
    clock = itertools.count()  # one atomic draw orders events across threads
    gone: dict[int, int] = {}  # receiver number -> when its disconnect returned
    late: list[tuple[int, int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)
    stop = threading.Event()

    def make(number: int) -> t.Callable[..., None]:
        def receiver(sender: t.Any, started: int = -1, **kwargs: t.Any) -> None:
            returned = gone.get(number)
            if returned is not None and started > returned:
                late.append((number, returned, started))

        return receiver

    def churn(seed: int) -> None:
        try:
            start.wait()
            for step in range(OPERATIONS):
                number = seed * OPERATIONS + step
                receiver = make(number)
                sig.connect(receiver, sender if for_sender else sig.ANY, weak=False)
                sig.send(sender, started=next(clock))
                sig.disconnect(receiver, sender if for_sender else sig.ANY)
                gone[number] = next(clock)
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    def send() -> None:
        try:
            start.wait()
            while not stop.is_set():
                sig.send(sender, started=next(clock))
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    churners = [threading.Thread(target=churn, args=(seed,)) for seed in (1, 2)]
    senders = [threading.Thread(target=send) for _ in range(THREADS - 2)]
    for thread in churners + senders:
        thread.start()
    for thread in churners:
        thread.join(TIMEOUT)
    stop.set()
    for thread in senders:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in churners + senders)
    assert errors == []
    assert late == []
    assert not sig.receivers
