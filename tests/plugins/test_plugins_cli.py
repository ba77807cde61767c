"""``heliograph plugins`` and ``heliograph signals --plugin``."""

from __future__ import annotations

from click.testing import CliRunner

import heliograph.plugins as p
from heliograph.cli import main


def test_plugins_lists_the_entry_points() -> None:
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0
    line = next(ln for ln in result.output.splitlines() if ln.startswith("example_isignal "))
    assert "heliograph.ext.example_isignal.plugin:ExampleISignalPlugin" in line


def test_signals_with_a_plugin_shows_its_receivers_and_owner() -> None:
    result = CliRunner().invoke(main, ["signals", "-p", "example_isignal"])
    assert result.exit_code == 0
    assert (
        "heliograph.ext.example_isignal.plugin.x10 (senders: 10; connected by: example_isignal)"
        in result.output
    )
    assert p.plugin_loaded("example_isignal")  # the pytest plugin unloads it after the test


def test_signals_with_an_unknown_plugin_is_a_clean_error() -> None:
    result = CliRunner().invoke(main, ["signals", "-p", "nope"])
    assert result.exit_code == 1
    assert "plugin 'nope' not found" in result.output
    assert "Traceback" not in result.output
