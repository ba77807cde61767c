"""The ``heliograph`` command."""

from __future__ import annotations

import typing as t

import click

from heliograph import __version__


class _WithPluginCommands(click.Group):
    """The core commands, then those of every available ``IClick`` plugin.

    Plugin modules are imported only when the list is needed (``--help``) or
    a name is not a core command; a plugin that fails to import is skipped
    with a warning instead of breaking every command.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None:
            found = _plugin_commands().get(cmd_name)
        return found


def _plugin_commands() -> dict[str, click.Command]:
    from heliograph import plugins

    found: dict[str, click.Command] = {}
    for name in plugins.available_plugins():
        try:
            cls = plugins.plugin_class(name)
            if not plugins.IClick.implemented_by(cls):
                continue
            plugin = plugins.get_plugin(name) or cls()
            commands = list(plugin.get_commands())
        except Exception as exc:
            click.echo(f"warning: skipping the commands of plugin {name!r}: {exc}", err=True)
            continue
        for command in commands:
            if isinstance(command, click.Command) and command.name:
                found.setdefault(command.name, command)
    return found


@click.group(cls=_WithPluginCommands)
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
@click.option(
    "--plugin",
    "-p",
    "plugin_names",
    multiple=True,
    help="Load this plugin first, so its subscriptions show with their owner (repeatable).",
)
def signals_command(markdown: bool, output: str | None, plugin_names: tuple[str, ...]) -> None:
    """List the signal catalog: namespaces, signals, contracts and receivers."""
    from heliograph.lib import signal_docs

    if plugin_names:
        from heliograph import plugins

        try:
            plugins.load(*plugin_names)
        except plugins.PluginError as exc:
            raise click.ClickException(str(exc)) from None
    text = signal_docs.render_markdown() if markdown else signal_docs.render_text()
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@main.command("plugins")
def plugins_command() -> None:
    """List the plugins that can be loaded: entry points of group heliograph.plugins."""
    from heliograph import plugins

    available = plugins.available_plugins()
    if not available:
        click.echo(f"no plugins found (entry point group {plugins.GROUP})")
        return
    width = max(len(name) for name in available)
    for name, origin in available.items():
        click.echo(f"{name:<{width}}  {origin}")


# -- the portal ------------------------------------------------------------------

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="HELIOGRAPH_CONFIG",
    default=None,
    help="Configuration file (INI or TOML); also $HELIOGRAPH_CONFIG.",
)


def _load_config(config_file: str | None) -> t.Any:
    from heliograph.config import ConfigError, load

    try:
        return load(config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256))
@config_option
def serve_command(host: str, port: int, threads: int, config_file: str | None) -> None:
    """Run the portal with waitress and print its URL."""
    import waitress

    from heliograph.config import ConfigError
    from heliograph.web import make_app

    config = _load_config(config_file)
    # Bind first, so that with --port 0 the real port is known before the app
    # is built; the app is handed to the server once it exists.
    server = waitress.create_server(_not_ready, host=host, port=port, threads=threads)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.effective_port}"
    if config.get("heliograph.site_url") == _default_site_url():
        config["heliograph.site_url"] = url  # links and API help URLs name this server
    try:
        server.application = make_app(config)
    except ConfigError as exc:
        server.close()
        raise click.ClickException(str(exc)) from None
    click.echo(f"heliograph is serving on {url}/  (Ctrl+C stops)")
    runtime = _start_delivery(server.application)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if runtime is not None:
            runtime.stop()


def _start_delivery(app: t.Any) -> t.Any:
    """Start the delivery threads ``heliograph.events.worker``/``relay`` ask for."""
    from heliograph.events.runtime import Runtime, serve_plan
    from heliograph.web import EXTENSION_KEY

    engine = app.extensions[EXTENSION_KEY]["engine"]
    worker, relay = serve_plan(engine)
    if not worker and not relay:
        click.echo(
            "background delivery: no worker in this process; run `heliograph worker` "
            "(events wait in the outbox meanwhile)"
        )
        return None
    runtime = Runtime(engine, worker=worker, relay=relay).start()
    click.echo(f"background delivery: {runtime.describe()}")
    return runtime


def _not_ready(environ: dict[str, t.Any], start_response: t.Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def _default_site_url() -> str:
    from heliograph.config import OPTIONS

    return next(o.parse(o.default) for o in OPTIONS if o.key == "heliograph.site_url")


@main.group("db")
def db_group() -> None:
    """Create or upgrade the portal's database schema (Alembic)."""


def _migrate(config_file: str | None, revision: str) -> None:
    from sqlalchemy import make_url

    from heliograph.config import configured_plugins
    from heliograph.model import engine_for, migrate

    config = _load_config(config_file)
    url = config["sqlalchemy.url"]
    shown = make_url(url).render_as_string(hide_password=True)
    engine = engine_for(url)
    try:
        migrate.upgrade(engine, revision)
        click.echo(f"database {shown} is at revision {migrate.current_revision(engine)}")
        if revision == "head":
            revisions = migrate.upgrade_plugins(engine, configured_plugins(config))
            for name, plugin_revision in revisions.items():
                click.echo(f"tables of plugin {name} are at revision {plugin_revision}")
    except Exception as exc:
        raise click.ClickException(f"cannot migrate the database {shown}: {exc}") from None
    finally:
        engine.dispose()


@db_group.command("init")
@config_option
def db_init_command(config_file: str | None) -> None:
    """Create the schema on an empty database (an existing one is brought up to date)."""
    _migrate(config_file, "head")


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to reach.")
@config_option
def db_upgrade_command(config_file: str | None, revision: str) -> None:
    """Bring the database schema to the latest revision."""
    _migrate(config_file, revision)


# -- accounts --------------------------------------------------------------------


def _portal(config_file: str | None) -> t.Any:
    """The portal application (database bound, plugins loaded), so that a user
    made here is made as the web makes one and its signals reach the plugins."""
    from heliograph.config import ConfigError
    from heliograph.web import make_app

    try:
        return make_app(_load_config(config_file))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _action(config_file: str | None, name: str, data_dict: dict[str, t.Any]) -> t.Any:
    from heliograph import logic

    app = _portal(config_file)
    with app.app_context():
        try:
            return logic.get_action(name)({"ignore_auth": True}, data_dict)
        except logic.ValidationError as exc:
            raise click.ClickException(f"{name}: {exc.summary()}") from None
        except logic.ActionError as exc:
            raise click.ClickException(f"{name}: {exc.message or type(exc).__name__}") from None


@main.group("user")
def user_group() -> None:
    """Manage user accounts."""


@user_group.command("add")
@click.argument("name")
@click.option("--email", required=True, help="The user's e-mail address.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (asked for when not given).",
)
@config_option
def user_add_command(name: str, email: str, password: str, config_file: str | None) -> None:
    """Create the user NAME (sends user_created, as every way of creating a user does)."""
    result = _action(
        config_file, "user_create", {"name": name, "email": email, "password": password}
    )
    click.echo(f"created user {result['name']} ({result['id']})")


@user_group.group("token")
def user_token_group() -> None:
    """Manage API tokens."""


@user_token_group.command("add")
@click.argument("name")
@click.argument("token_name", metavar="[TOKEN_NAME]", required=False)
@click.option(
    "--name",
    "option_name",
    default=None,
    help="The token's name, as shown on the user's page (default: cli).",
)
@config_option
def user_token_add_command(
    name: str, token_name: str | None, option_name: str | None, config_file: str | None
) -> None:
    """Make an API token for the user NAME and print it. It is shown only
    now: only a hash of it is stored. (CKAN: ckan user token add USER NAME.)"""
    if token_name and option_name and token_name != option_name:
        raise click.UsageError(
            f"two token names given: {token_name!r} and --name {option_name!r}; give one"
        )
    label = token_name or option_name or "cli"
    result = _action(config_file, "api_token_create", {"user": name, "name": label})
    click.echo(f"API token {label!r} for {name} (shown only now, keep it safe):", err=True)
    click.echo(result["token"])


@main.group("sysadmin")
def sysadmin_group() -> None:
    """Grant or withdraw the sysadmin flag."""


def _set_sysadmin(config_file: str | None, name: str, flag: bool) -> None:
    from sqlalchemy import select

    from heliograph import model

    app = _portal(config_file)
    with app.app_context():
        session = model.Session()
        user = session.scalar(
            select(model.User).where((model.User.name == name) | (model.User.id == name))
        )
        if user is None:
            raise click.ClickException(f"no user called {name!r}; create it with 'user add'")
        user.sysadmin = flag
        session.commit()
        click.echo(f"{user.name} is {'now' if flag else 'no longer'} a sysadmin")


@sysadmin_group.command("add")
@click.argument("name")
@config_option
def sysadmin_add_command(name: str, config_file: str | None) -> None:
    """Make the existing user NAME a sysadmin."""
    _set_sysadmin(config_file, name, True)


@sysadmin_group.command("remove")
@click.argument("name")
@config_option
def sysadmin_remove_command(name: str, config_file: str | None) -> None:
    """Take the sysadmin flag from the user NAME."""
    _set_sysadmin(config_file, name, False)


if __name__ == "__main__":  # pragma: no cover
    main()


def _add_delivery_commands() -> None:
    from heliograph.cli_events import events_group, relay_command, worker_command

    main.add_command(worker_command)
    main.add_command(relay_command)
    main.add_command(events_group)


_add_delivery_commands()
