"""The ``heliograph`` command."""

from __future__ import annotations

import click

from heliograph import __version__


@click.group()
@click.version_option(__version__, prog_name="heliograph")
def main() -> None:
    """heliograph: CKAN's signal system, its plugins and a small data portal."""


@main.command("signals")
@click.option("--markdown", is_flag=True, help="Write the reference page (Markdown) instead.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of standard output.",
)
def signals_command(markdown: bool, output: str | None) -> None:
    """List the signal catalog: namespaces, signals, contracts and receivers."""
    from heliograph.lib import signal_docs

    text = signal_docs.render_markdown() if markdown else signal_docs.render_text()
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


if __name__ == "__main__":  # pragma: no cover
    main()
