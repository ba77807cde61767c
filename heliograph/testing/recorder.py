"""Recording the sends of signals, with assertions on them."""

from __future__ import annotations

import collections.abc as c
import typing as t
from dataclasses import dataclass

from heliograph.plugins.subscriptions import signal_label
from heliograph.signals import Signal

_UNSET: t.Any = object()


@dataclass(frozen=True)
class SentCall:
    """One send: its sender and keyword arguments (a shallow copy)."""

    sender: t.Any
    kwargs: dict[str, t.Any]

    def matches(self, sender: t.Any = _UNSET, **kwargs: t.Any) -> bool:
        """Whether the sender is ``sender`` (when given) and ``kwargs`` is a subset."""
        if sender is not _UNSET and not (self.sender is sender or self.sender == sender):
            return False
        return all(
            name in self.kwargs and (self.kwargs[name] is v or self.kwargs[name] == v)
            for name, v in kwargs.items()
        )

    def __str__(self) -> str:
        args = "".join(f", {name}={value!r}" for name, value in self.kwargs.items())
        return f"send({self.sender!r}{args})"


class _RecorderOwner:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<signal_recorder>"


class SignalRecorder:
    """Records every send of the signals given to :meth:`record`.

    A receiver is connected for every sender, under a private owner, so it
    neither disturbs nor is disturbed by plugins connecting the same
    signals; :meth:`close` removes it. It is a receiver like any other: it
    appears in ``send()``'s results (returning None), and sends of a muted
    signal are not recorded.
    """

    def __init__(self) -> None:
        self._owner = _RecorderOwner()
        self._calls: dict[int, list[SentCall]] = {}
        self._receivers: dict[int, tuple[Signal, c.Callable[..., None]]] = {}

    def record(self, *signals: Signal) -> SignalRecorder:
        """Start recording ``signals``; returns the recorder."""
        for sig in signals:
            if not isinstance(sig, Signal):
                raise TypeError(f"signal_recorder records signals, got {sig!r}")
            if id(sig) in self._receivers:
                continue
            calls: list[SentCall] = []
            receiver = _recording_receiver(calls, f"signal_recorder[{signal_label(sig)}]")
            self._calls[id(sig)] = calls
            self._receivers[id(sig)] = (sig, receiver)
            sig.connect(receiver, weak=False, owner=self._owner)
        return self

    __call__ = record

    def close(self) -> None:
        """Stop recording every signal (the recorded calls are kept)."""
        for sig, receiver in self._receivers.values():
            sig.disconnect(receiver, owner=self._owner)
        self._receivers.clear()

    def calls(self, signal: Signal) -> list[SentCall]:
        """The recorded sends of ``signal``, in order."""
        calls = self._calls.get(id(signal))
        if calls is None:
            raise LookupError(
                f"signal {signal_label(signal)} is not recorded; call "
                f"signal_recorder.record(signal) before it is sent"
            )
        return list(calls)

    def senders(self, signal: Signal) -> list[t.Any]:
        """The senders of the recorded sends of ``signal``, in order."""
        return [call.sender for call in self.calls(signal)]

    def clear(self) -> None:
        """Forget the sends recorded so far (recording goes on)."""
        for calls in self._calls.values():
            calls.clear()

    def assert_sent(
        self,
        signal: Signal,
        /,
        sender: t.Any = _UNSET,
        *,
        times: int | None = None,
        **kwargs: t.Any,
    ) -> list[SentCall]:
        """Assert ``signal`` was sent with ``sender`` (when given) and with at least
        the keyword arguments ``kwargs``: at least once, or exactly ``times`` times.

        Returns the matching sends.
        """
        matching = [call for call in self.calls(signal) if call.matches(sender, **kwargs)]
        ok = len(matching) == times if times is not None else bool(matching)
        if not ok:
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(
                f"expected signal {signal_label(signal)} to be sent {wanted} with "
                f"{_describe(sender, kwargs)}; it was, {len(matching)} time(s).\n"
                f"{self._listing(signal)}"
            )
        return matching

    def assert_not_sent(self, signal: Signal, /, sender: t.Any = _UNSET, **kwargs: t.Any) -> None:
        """Assert no send of ``signal`` matched ``sender`` and ``kwargs`` (any send, if neither)."""
        matching = [call for call in self.calls(signal) if call.matches(sender, **kwargs)]
        if matching:
            raise AssertionError(
                f"expected signal {signal_label(signal)} not to be sent with "
                f"{_describe(sender, kwargs)}; it was, {len(matching)} time(s).\n"
                f"{self._listing(signal)}"
            )

    def _listing(self, signal: Signal) -> str:
        calls = self.calls(signal)
        if not calls:
            return "No send was recorded."
        lines = [f"Recorded sends of {signal_label(signal)}:"]
        lines.extend(f"  {number}. {call}" for number, call in enumerate(calls, 1))
        return "\n".join(lines)


def _recording_receiver(calls: list[SentCall], name: str) -> c.Callable[..., None]:
    def receiver(sender: t.Any, /, **kwargs: t.Any) -> None:
        calls.append(SentCall(sender, dict(kwargs)))

    receiver.__qualname__ = receiver.__name__ = name
    return receiver


def _describe(sender: t.Any, kwargs: dict[str, t.Any]) -> str:
    parts = [] if sender is _UNSET else [f"sender={sender!r}"]
    parts.extend(f"{name}={value!r}" for name, value in kwargs.items())
    return ", ".join(parts) if parts else "any arguments"
