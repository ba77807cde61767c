"""The ``heliograph`` command.

The web layer (Flask) is imported only by the commands that build the portal,
so ``heliograph db init``/``upgrade`` migrate without it; ``cli_events`` and
this module import each other, so each imports the other inside a function.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

import click
from sqlalchemy import make_url, select

from heliograph import __version__, logic, model, plugins
from heliograph.config import DEFAULTS, ConfigError, configured_plugins, load
from heliograph.events.runtime import Runtime, serve_plan
from heliograph.lib import signal_docs
from heliograph.model import engine_for, migrate


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
    found: dict[str, click.Command] = {}
    for name in plugins.available_plugins():
        try:
            cls = plugins.plugin_class(name)
            if not plugins.IClick.implemented_by(cls):
                continue
            plugin = t.cast(plugins.IClick, plugins.get_plugin(name) or cls())
            commands = list(plugin.get_commands())
        except Exception as exc:
            click.echo(f"warning: skipping the commands of plugin {name!r}: {exc}", err=True)
            continue
        for command in commands:
            if isinstance(command, click.Command) and command.name:
                found.setdefault(command.name, command)
    return found


CREATING_COMMANDS = frozenset({"serve", "db"})
"""Commands that may create the instance folder (and its database) when none exists."""


@click.group(cls=_WithPluginCommands)
@click.version_option(__version__, prog_name="heliograph")
@click.option(
    "--instance",
    "instance",
    type=click.Path(file_okay=False),
    default=None,
    help="The portal's instance folder (database, secret, files); by default ./instance, "
    "else the instance beside this heliograph's pyproject.toml (where scripts/run.sh keeps it).",
)
@click.pass_context
def main(ctx: click.Context, instance: str | None) -> None:
    """heliograph: CKAN's signal system, its plugins and a small data portal.

    Commands that use the database say on standard error which instance and
    database they use; only `serve` and `db` create an instance that does not exist.
    """
    from heliograph import config

    config.COMMAND_LINE.chosen = Path(instance).resolve() if instance else None
    config.COMMAND_LINE.instance = None if instance else find_instance()
    config.COMMAND_LINE.create = ctx.invoked_subcommand in CREATING_COMMANDS
    config.COMMAND_LINE.announce = _announce
    ctx.call_on_close(_forget_command_line)


def _forget_command_line() -> None:
    from heliograph import config

    config.COMMAND_LINE = config.CommandLine()


def find_instance(checkout: Path | None = None) -> Path | None:
    """``./instance`` when it exists, else the ``instance`` folder of the checkout
    this heliograph runs from (beside its pyproject.toml) when that exists."""
    here = Path.cwd() / "instance"
    if here.is_dir():
        return here
    if checkout is None:
        import heliograph

        checkout = Path(heliograph.__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "instance").is_dir():
        return checkout / "instance"
    return None


def _announce(config: t.Any) -> None:
    from sqlalchemy import make_url

    url = config.get("sqlalchemy.url") or ""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:
        shown = "<unparsable URL>"
    click.echo(
        f"heliograph: instance {config.get('heliograph.instance_path')}, database {shown}",
        err=True,
    )


config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="HELIOGRAPH_CONFIG",
    default=None,
    help="Configuration file (INI or TOML); also $HELIOGRAPH_CONFIG.",
)


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
    help="Also load this plugin, beside those of the configuration (repeatable).",
)
@click.option(
    "--url",
    default=None,
    help="Show the live catalog of the portal running at this URL instead "
    "(its sends, failures and receiver timings; action signal_catalog_show).",
)
@click.option(
    "--token",
    envvar="HELIOGRAPH_API_TOKEN",
    default=None,
    help="A sysadmin's API token for --url; also $HELIOGRAPH_API_TOKEN.",
)
@config_option
def signals_command(
    markdown: bool,
    output: str | None,
    plugin_names: tuple[str, ...],
    url: str | None,
    token: str | None,
    config_file: str | None,
) -> None:
    """List the signal catalog: namespaces, signals, contracts and receivers.

    Without --url: the plugins of the configuration (heliograph.plugins in
    the --config file, or $HELIOGRAPH_PLUGINS) are loaded first, as `serve`
    loads them, so their receivers show with their owner. With --url: the
    catalog of the running portal, as it counts and times them.
    """
    if url:
        if markdown or plugin_names:
            raise click.UsageError("--url shows the running portal; drop --markdown and --plugin")
        from heliograph.metrics.catalog import render_text

        text = render_text(_remote_catalog(url, token))
    else:
        text = _local_catalog(markdown, plugin_names, config_file)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


def _local_catalog(markdown: bool, plugin_names: tuple[str, ...], config_file: str | None) -> str:
    if not markdown:
        from heliograph.config import peek

        try:
            configured = list(peek("heliograph.plugins", config_file))
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        names = list(dict.fromkeys([*configured, *plugin_names]))
        missing = [n for n in names if not plugins.plugin_loaded(n)]
        if missing:
            try:
                plugins.load(*missing)
            except plugins.PluginError as exc:
                raise click.ClickException(str(exc)) from None
        return signal_docs.render_text()
    return signal_docs.render_markdown()


def _remote_catalog(url: str, token: str | None) -> dict[str, t.Any]:
    """The result of ``signal_catalog_show`` on the portal at ``url``."""
    import json
    import urllib.error
    import urllib.request

    if url.split("://", 1)[0].lower() not in ("http", "https") or "://" not in url:
        raise click.UsageError(f"--url {url!r} is not an http(s) URL; expected http://host:port")
    endpoint = url.rstrip("/") + "/api/3/action/signal_catalog_show"
    request = urllib.request.Request(endpoint, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
        if exc.code == 403:
            raise click.ClickException(
                f"{url} refused the catalog (403): signal_catalog_show is for sysadmins; "
                "pass a sysadmin's API token with --token"
            ) from None
        if exc.code == 400 and b"Action name not known" in body:
            raise click.ClickException(
                f"{url} has no action signal_catalog_show (not a heliograph portal?)"
            ) from None
        raise click.ClickException(f"{url} answered {exc.code}: {body[:200]!r}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise click.ClickException(f"cannot reach {url}: {reason}") from None
    try:
        envelope = json.loads(body)
        result = envelope["result"]
        if not isinstance(result, dict) or "signals" not in result:
            raise ValueError("no signals in the result")
    except (ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"{url} did not answer with a signal catalog: {exc}") from None
    return t.cast("dict[str, t.Any]", result)


@main.command("plugins")
def plugins_command() -> None:
    """List the plugins that can be loaded: entry points of group heliograph.plugins."""
    available = plugins.available_plugins()
    if not available:
        click.echo(f"no plugins found (entry point group {plugins.GROUP})")
        return
    width = max(len(name) for name in available)
    for name, origin in available.items():
        click.echo(f"{name:<{width}}  {origin}")


# -- the portal ------------------------------------------------------------------


def _load_config(config_file: str | None) -> t.Any:
    try:
        return load(config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option(
    "--request-log/--no-request-log",
    default=True,
    show_default=True,
    help="Log each request (method, path, status, time) on standard error.",
)
@config_option
def serve_command(
    host: str, port: int, threads: int, request_log: bool, config_file: str | None
) -> None:
    """Run the portal with waitress and print its URL; log each request and
    where mail goes."""
    import waitress

    from heliograph.web import make_app
    from heliograph.web.request_log import RequestLog

    _log_to_stderr()
    config = _load_config(config_file)
    # Bind first, so that with --port 0 the real port is known before the app
    # is built; the app is handed to the server once it exists.
    server = waitress.create_server(_not_ready, host=host, port=port, threads=threads)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.effective_port}"
    if config.get("heliograph.site_url") == _default_site_url():
        config["heliograph.site_url"] = url  # links and API help URLs name this server
    try:
        app = make_app(config)
    except ConfigError as exc:
        server.close()
        raise click.ClickException(str(exc)) from None
    server.application = RequestLog(app) if request_log else app
    click.echo(f"heliograph is serving on {url}/  (Ctrl+C stops)")
    click.echo(_where_mail_goes(config), err=True)
    runtime = _start_delivery(app)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if runtime is not None:
            runtime.stop()


def _log_to_stderr() -> None:
    """Show heliograph's INFO messages (requests, mail written) on standard error."""
    import logging

    logger = logging.getLogger("heliograph")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)


def _where_mail_goes(config: t.Any) -> str:
    server = str(config.get("smtp.server") or "").strip()
    if server:
        return f"mail: sent through the SMTP server {server}"
    folder = config.get("heliograph.mail_folder")
    return (
        f"mail: smtp.server is empty, so each message (password reset links...) is written "
        f"as a .eml file into {folder}"
    )


def _start_delivery(app: t.Any) -> t.Any:
    """Start the delivery threads ``heliograph.events.worker``/``relay`` ask for."""
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
    return str(DEFAULTS["heliograph.site_url"])


@main.group("db")
def db_group() -> None:
    """Create or upgrade the portal's database schema (Alembic)."""


def _migrate(config_file: str | None, revision: str) -> None:
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
    from heliograph.web import make_app

    try:
        return make_app(_load_config(config_file))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _action(config_file: str | None, name: str, data_dict: dict[str, t.Any]) -> t.Any:
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
