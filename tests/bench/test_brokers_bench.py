"""Smoke test of bench/brokers.py: it runs and prints both rates for each broker.

Tiny counts, so the figures mean nothing: nothing here asserts on timing.
"""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from tests.helpers import require_service

BENCH = "brokers.py"  # loaded by the suite's ``bench`` fixture


@pytest.mark.parametrize(("kind", "port"), [("redis", 6379), ("nats", 4222)])
def test_prints_publish_and_fetch_rates(
    bench: ModuleType, capsys: pytest.CaptureFixture[str], kind: str, port: int
) -> None:
    require_service(kind, "127.0.0.1", port)
    bench.main(["--broker", kind, "--events", "300", "--batch", "50"])
    (line,) = capsys.readouterr().out.splitlines()
    assert re.match(rf"{kind}\s+publish\s+[\d,]+ events/s.*fetch\+ack\s+[\d,]+ events/s", line)
