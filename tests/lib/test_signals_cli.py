"""``heliograph signals``: the catalog in a terminal and as the reference page."""

from __future__ import annotations

import pathlib
import typing as t

from click.testing import CliRunner

from heliograph.cli import main
from heliograph.lib import signals as lib_signals

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "signals.md"


def run(*args: str) -> t.Any:
    result = CliRunner().invoke(main, ["signals", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def on_request(sender: t.Any, **kwargs: t.Any) -> None:
    pass


def section(output: str, name: str) -> str:
    """The lines of the listing about one signal."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {name}("))
    end = next(
        (i for i in range(start + 1, len(lines)) if not lines[i].startswith("   ")),
        len(lines),
    )
    return "\n".join(lines[start:end])


def test_signals_lists_both_namespaces_and_every_core_signal() -> None:
    output = run().output
    assert "namespace ckan\n" in output
    assert "namespace ckanext\n" in output
    assert output.index("namespace ckan\n") < output.index("namespace ckanext\n")
    for entry in lib_signals.catalog(include_undocumented=False):
        assert f"  {entry.name}(" in output


def test_signals_shows_contracts_policies_and_aliases() -> None:
    output = run().output
    assert "action_succeeded(sender, context, data_dict, result) [also action_succeed]" in output
    assert "datastore_delete(sender, result, data_dict)" in output
    assert "policy=isolate" in output
    contract = lib_signals.request_finished.contract
    assert contract is not None
    assert f"when:   {contract.sent_when}" in output
    assert f"sender: {contract.sender}" in output
    assert f"response: {contract.arguments['response']}" in output


def test_signals_shows_a_connected_receiver_with_its_sender_and_plugin() -> None:
    signal = lib_signals.request_started
    signal.connect(on_request, "the-app", owner="ckanext-demo")
    try:
        output = run().output
    finally:
        signal.disconnect(on_request)
    listing = section(output, "request_started")
    line = f"        - {__name__}.on_request (senders: 'the-app'; connected by: ckanext-demo)"
    assert line in listing.splitlines()
    count = len(lib_signals.request_started.receiver_info()) + 1
    assert f"receivers: {count}" in listing
    assert f"{__name__}.on_request" not in run().output


def test_signals_shows_send_and_failure_counts() -> None:
    def broken(sender: t.Any, **kwargs: t.Any) -> None:
        raise RuntimeError

    signal = lib_signals.failed_login
    before = signal.stats()
    with signal.connected_to(broken):
        signal.send("someone")
    output = run().output
    first_line = section(output, "failed_login").splitlines()[0]
    assert f"sent={before.sent + 1} failed={before.failed + 1}" in first_line


def test_signals_markdown_is_the_committed_reference_page() -> None:
    assert run("--markdown").stdout_bytes == DOCS.read_bytes()


def test_signals_markdown_documents_every_core_signal() -> None:
    output = run("--markdown").output
    for entry in lib_signals.catalog(include_undocumented=False):
        assert entry.contract is not None
        assert f"## `{entry.namespace}.{entry.name}` {entry.contract.signature()}" in output


def test_signals_markdown_ignores_receivers_and_run_time_signals() -> None:
    name = "myext_only_at_run_time"
    lib_signals.ckanext.signal(name)
    try:
        with lib_signals.request_started.connected_to(on_request):
            output = run("--markdown").output
        assert name in run().output
    finally:
        lib_signals.ckanext.pop(name, None)
    assert name not in output
    assert output.encode() == DOCS.read_bytes()


def test_signals_output_option_writes_the_page_to_a_file(tmp_path: pathlib.Path) -> None:
    target = tmp_path / "signals.md"
    result = run("--markdown", "--output", str(target))
    assert f"wrote {target}" in result.output
    assert target.read_bytes() == DOCS.read_bytes()


def test_signals_help_describes_the_markdown_flag() -> None:
    assert "--markdown" in run("--help").output
