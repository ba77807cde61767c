"""Test support for extension authors.

The pytest plugin (:mod:`heliograph.testing.pytest_plugin`) is registered
as the ``pytest11`` entry point ``heliograph`` and is active wherever
heliograph is installed; :class:`SignalRecorder` is also usable without it.
"""

from __future__ import annotations

from heliograph.testing.recorder import SentCall, SignalRecorder

__all__ = ["SentCall", "SignalRecorder"]
