"""``heliograph plugins`` and ``heliograph signals --plugin``."""

from __future__ import annotations

import typing as t

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


def _hello_plugin(broken: bool = False) -> type[p.Plugin]:
    import click

    @click.command("hello-there")
    def hello() -> None:
        """Say hello."""
        click.echo("hello from a plugin")

    class HelloPlugin(p.SingletonPlugin):
        p.implements(p.IClick)

        def get_commands(self) -> list[click.Command]:
            if broken:
                raise RuntimeError("cannot make my commands")
            return [hello]

    return HelloPlugin


def test_an_available_iclick_plugin_adds_its_commands_without_being_loaded(
    with_plugins: t.Any,
) -> None:
    with_plugins.register("hello_cli", _hello_plugin())
    result = CliRunner().invoke(main, ["hello-there"])
    assert result.output == "hello from a plugin\n"
    assert "hello-there" in CliRunner().invoke(main, ["--help"]).output
    assert not p.plugin_loaded("hello_cli")


def test_a_plugin_whose_commands_fail_is_skipped_with_a_warning(with_plugins: t.Any) -> None:
    with_plugins.register("broken_cli", _hello_plugin(broken=True))
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "skipping the commands of plugin 'broken_cli'" in result.output
