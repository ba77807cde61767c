"""Helpers the whole suite shares (the fixtures live in conftest.py)."""

from __future__ import annotations

import os
import socket

import pytest


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, under HELIOGRAPH_REQUIRE_SERVICES=1, fail) when the service is down."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return
    except OSError as exc:
        reason = f"{name} is not reachable on {host}:{port} ({exc})"
    if os.environ.get("HELIOGRAPH_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}; HELIOGRAPH_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)
