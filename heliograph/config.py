"""Configuration: declared keys, read from an INI or TOML file, overridden by the environment.

A CKAN user knows the INI shape (``[app:main]`` with dotted keys); a TOML file
may hold the same dotted keys at top level or in a ``[heliograph]`` table.
Every declared key can be overridden by an environment variable: the key in
capitals, dots and dashes turned to underscores, prefixed with ``HELIOGRAPH_``
unless it already starts with it (``sqlalchemy.url`` ->
``HELIOGRAPH_SQLALCHEMY_URL``, ``heliograph.plugins`` -> ``HELIOGRAPH_PLUGINS``).

A missing required key or a value of the wrong shape stops start-up with a
:class:`ConfigError` that names the key, where the value came from, and what
would be right. Undeclared keys are kept as strings, for plugins.
"""

from __future__ import annotations

import collections.abc as c
import configparser
import os
import secrets
import tomllib
import typing as t
from dataclasses import dataclass
from pathlib import Path

from limits import parse_many


class ConfigError(ValueError):
    """A configuration key is missing or malformed."""


@dataclass
class CommandLine:
    """What the ``heliograph`` command asks of :func:`load` (see :data:`COMMAND_LINE`).

    ``chosen`` is the instance folder named on the command line (it wins over
    the configuration); ``instance`` is the one to use when neither names one
    (instead of ``./instance``); ``create`` False makes a missing default
    instance an error instead of a new, empty one; ``announce`` is called with
    every loaded configuration (to say which database a command uses).
    """

    chosen: Path | None = None
    instance: Path | None = None
    create: bool = True
    announce: c.Callable[[Config], None] | None = None


COMMAND_LINE = CommandLine()
"""Set by :mod:`heliograph.cli` only; a library or test caller gets the defaults."""


def _as_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0", ""):
        return False
    raise ValueError("expected true or false")


def _as_int(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None
    if number < 0:
        raise ValueError("expected a number of zero or more")
    return number


def _as_float(value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise ValueError("expected a number") from None
    if not number >= 0:
        raise ValueError("expected a number of zero or more")
    return number


def _as_positive_int(value: str) -> int:
    number = _as_int(value)
    if number < 1:
        raise ValueError("expected a whole number of 1 or more")
    return number


def _as_switch(value: str) -> str:
    lowered = value.strip().lower()
    if lowered == "auto":
        return "auto"
    return "true" if _as_bool(lowered) else "false"


def _as_broker(value: str) -> str:
    value = value.strip()
    if value and value.split("://", 1)[0].lower() not in ("redis", "rediss", "nats", "tls"):
        raise ValueError("expected empty (embedded), redis://host:port/db or nats://host:port")
    return value


def as_list(value: t.Any) -> list[str]:
    """A list of names given as a list, or as a string of names separated by
    commas or spaces; None or empty gives an empty list."""
    if isinstance(value, str):
        return value.replace(",", " ").split()
    return [str(item) for item in value or []]


def _as_url(value: str) -> str:
    value = value.strip()
    if "://" not in value:
        raise ValueError("expected a URL such as http://127.0.0.1:5000")
    return value.rstrip("/")


def _as_str(value: str) -> str:
    return value.strip()


def _as_rate_limits(value: str) -> str:
    value = value.strip()
    if value:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("expected rate limits such as '5 per minute; 20 per hour'") from None
    return value


def _as_storage_uri(value: str) -> str:
    value = value.strip()
    scheme = value.partition("://")[0]
    if not value.partition("://")[1] or scheme not in {
        "memory",
        "redis",
        "rediss",
        "redis+unix",
        "redis+sentinel",
        "redis+cluster",
    }:
        raise ValueError("expected memory:// or a Redis URL such as redis://127.0.0.1:6379/0")
    return value


@dataclass(frozen=True)
class Option:
    """A declared configuration key."""

    key: str
    parse: c.Callable[[str], t.Any]
    default: str | None
    help: str
    required: bool = False

    @property
    def env(self) -> str:
        name = self.key.upper().replace(".", "_").replace("-", "_")
        return name if name.startswith("HELIOGRAPH_") else f"HELIOGRAPH_{name}"


OPTIONS: tuple[Option, ...] = (
    Option("heliograph.plugins", as_list, "", "plugins to load, by entry-point name"),
    Option("heliograph.instance_path", _as_str, None, "folder for the database, secret, files"),
    Option("sqlalchemy.url", _as_str, None, "database URL (default: SQLite in the instance)"),
    Option("heliograph.storage_path", _as_str, None, "folder for uploaded files"),
    Option("heliograph.site_url", _as_url, "http://127.0.0.1:5000", "public URL of the site"),
    Option("heliograph.site_title", _as_str, "Heliograph", "title of the site"),
    Option("heliograph.site_description", _as_str, "", "description of the site"),
    Option("heliograph.secret_key", _as_str, None, "session secret (generated when absent)"),
    Option("heliograph.max_request_size_mb", _as_int, "10", "largest request body accepted"),
    Option("heliograph.max_resource_size_mb", _as_int, "10", "largest uploaded file accepted"),
    Option(
        "heliograph.upload_tmp_max_age_minutes",
        _as_int,
        "60",
        "age past which a temporary upload file in <storage>/tmp is deleted as abandoned",
    ),
    Option("smtp.server", _as_str, "", "SMTP server host:port (empty: write mail to a folder)"),
    Option("smtp.starttls", _as_bool, "false", "use STARTTLS with the SMTP server"),
    Option("smtp.user", _as_str, "", "SMTP user name"),
    Option("smtp.password", _as_str, "", "SMTP password"),
    Option("smtp.mail_from", _as_str, "heliograph@localhost", "sender address of mail"),
    Option("heliograph.mail_folder", _as_str, None, "folder for mail when smtp.server is empty"),
    Option(
        "heliograph.reset_key_ttl_minutes", _as_int, "60", "how long a password-reset link works"
    ),
    Option(
        "heliograph.session_lifetime_days",
        _as_int,
        "30",
        "a login (and its remember-me cookie) ends after this many days unused",
    ),
    Option(
        "heliograph.ratelimit.storage_uri",
        _as_storage_uri,
        "memory://",
        "where failed logins are counted: memory:// (each process alone) or a Redis URL "
        "such as redis://127.0.0.1:6379/0 (shared by every process)",
    ),
    Option(
        "heliograph.login_limit.account",
        _as_rate_limits,
        "5 per minute; 20 per hour",
        "failed logins allowed per login name or e-mail (Flask-Limiter notation; empty: none)",
    ),
    Option(
        "heliograph.login_limit.address",
        _as_rate_limits,
        "20 per minute; 100 per hour",
        "failed logins allowed per client address (Flask-Limiter notation; empty: none)",
    ),
    Option(
        "heliograph.password_checks",
        _as_int,
        "0",
        "Argon2 hashes or checks run at once (0: half the processor cores, at least one)",
    ),
    Option("heliograph.auth.create_unowned_dataset", _as_bool, "false", "CKAN auth rule"),
    Option("heliograph.auth.user_create_organizations", _as_bool, "true", "CKAN auth rule"),
    Option("heliograph.auth.user_create_groups", _as_bool, "true", "CKAN auth rule"),
    Option("heliograph.auth.user_delete_organizations", _as_bool, "true", "CKAN auth rule"),
    Option("heliograph.auth.user_delete_groups", _as_bool, "true", "CKAN auth rule"),
    Option("heliograph.auth.anon_create_dataset", _as_bool, "false", "CKAN auth rule"),
    Option(
        "heliograph.auth.create_dataset_if_not_in_organization",
        _as_bool,
        "true",
        "CKAN auth rule",
    ),
    Option("heliograph.auth.create_user_via_api", _as_bool, "false", "CKAN auth rule"),
    Option("heliograph.auth.create_user_via_web", _as_bool, "true", "CKAN auth rule"),
    Option("heliograph.auth.public_user_details", _as_bool, "true", "CKAN auth rule"),
    Option(
        "heliograph.cache.datasets_mb",
        _as_float,
        "32",
        "memory (MB) for built package_show documents, checked against the dataset "
        "revision on every read; 0 turns the cache off",
    ),
    Option(
        "heliograph.cache.searches_mb",
        _as_float,
        "16",
        "memory (MB) for package_search answers (keyed by the caller's permission "
        "labels); 0 turns the cache off",
    ),
    Option(
        "heliograph.cache.markdown_mb",
        _as_float,
        "8",
        "memory (MB) for the HTML of rendered Markdown texts (a dataset's notes), "
        "least recently shown out first; 0 turns the cache off",
    ),
    Option("heliograph.search.rows_max", _as_int, "1000", "largest page of package_search"),
    Option(
        "heliograph.search.max_text_length",
        _as_int,
        "2000",
        "longest text (in characters) a search parameter (q, fq, sort, ...) may hold",
    ),
    Option(
        "heliograph.search.max_terms",
        _as_int,
        "50",
        "most words and field:value clauses one search may hold (q, fq, fq_list together)",
    ),
    Option(
        "heliograph.search.max_list_items",
        _as_int,
        "1000",
        "most items a list parameter of a search (fq_list, fields, a filter's values) may hold",
    ),
    Option("heliograph.hide_version", _as_bool, "false", "hide the version in status_show"),
    Option(
        "heliograph.events.broker",
        _as_broker,
        "",
        "where background events travel: empty (the portal's database), redis://, nats://",
    ),
    Option("heliograph.events.partitions", _as_positive_int, "8", "broker partitions"),
    Option("heliograph.events.namespace", _as_str, "heliograph", "prefix of broker names"),
    Option(
        "heliograph.events.lease_seconds", _as_float, "180", "how long a worker holds a delivery"
    ),
    Option("heliograph.events.max_attempts", _as_positive_int, "8", "attempts before dead"),
    Option("heliograph.events.retry_base_seconds", _as_float, "10", "first retry delay"),
    Option("heliograph.events.retry_max_seconds", _as_float, "3600", "longest retry delay"),
    Option("heliograph.events.poll_seconds", _as_float, "0.5", "idle worker poll interval"),
    Option(
        "heliograph.events.gather_seconds", _as_float, "0.05", "wait for a burst before claiming"
    ),
    Option("heliograph.events.batch", _as_positive_int, "100", "deliveries claimed at once"),
    Option("heliograph.events.worker", _as_switch, "auto", "serve runs a worker: auto|true|false"),
    Option("heliograph.events.relay", _as_switch, "auto", "serve runs the relay: auto|true|false"),
    Option(
        "heliograph.metrics.receiver_timing",
        _as_bool,
        "false",
        "time every receiver call (a histogram per receiver and plugin; see docs/metrics.md "
        "for its measured cost)",
    ),
    Option(
        "heliograph.tracing",
        _as_bool,
        "false",
        "OpenTelemetry spans for requests and receiver calls "
        "(needs the otel extra: pip install 'heliograph[otel]')",
    ),
    Option(
        "heliograph.metrics.token",
        _as_str,
        "",
        "a secret that also lets its bearer read /metrics (Authorization: Bearer TOKEN); "
        "empty: sysadmins only",
    ),
)
_BY_KEY = {option.key: option for option in OPTIONS}


# CKAN auth settings heliograph does not declare, with CKAN 2.11's defaults.
_UNDECLARED_DEFAULTS: dict[str, t.Any] = {
    "heliograph.locale_default": "en",
    "heliograph.error_emails_to": None,
    "heliograph.group_and_organization_list_max": 1000,
    "heliograph.group_and_organization_list_all_fields_max": 25,
}


def _declared_defaults() -> dict[str, t.Any]:
    defaults = dict(_UNDECLARED_DEFAULTS)
    for option in OPTIONS:
        if option.default is None:
            continue
        try:
            defaults[option.key] = option.parse(option.default)
        except ValueError:  # a declared default that does not parse is this module's bug
            defaults[option.key] = option.default
    return defaults


DEFAULTS: dict[str, t.Any] = _declared_defaults()
"""Each declared key's default, parsed without touching the disk."""

_TRUE = frozenset({"true", "yes", "on", "1", "t", "y"})


class Config(dict[str, t.Any]):
    """A configuration: declared keys hold typed values, and a declared key it
    does not hold answers its default (:data:`DEFAULTS`).

    Values may arrive typed (from :func:`load`) or as raw strings (a plain dict
    handed over by a test or a plugin); :meth:`as_bool`, :meth:`as_int` and
    :meth:`as_list` accept both, so ``"false"`` is never mistaken for true.
    """

    def __missing__(self, key: str) -> t.Any:
        if key in DEFAULTS:
            return DEFAULTS[key]
        raise KeyError(key)

    def get(self, key: str, default: t.Any = None) -> t.Any:
        if key in self:
            return self[key]
        return DEFAULTS.get(key, default)

    def replace(self, values: c.Mapping[str, t.Any]) -> None:
        """Hold exactly ``values`` (declared defaults still answer the rest)."""
        if values is self:
            return
        fresh = dict(values)
        self.clear()
        self.update(fresh)

    def as_bool(self, key: str, default: bool = False) -> bool:
        value = self.get(key, default)
        if isinstance(value, str):
            return value.strip().lower() in _TRUE
        return bool(value)

    def as_int(self, key: str, default: int = 0) -> int:
        value = self.get(key, default)
        try:
            return int(value)
        except (TypeError, ValueError):
            return default

    def as_list(self, key: str) -> list[str]:
        return as_list(self.get(key))

    def auth(self, rule: str) -> bool:
        """The CKAN auth rule ``rule`` (``heliograph.auth.<rule>``), as a bool."""
        return self.as_bool(f"heliograph.auth.{rule}")

    def path(self, key: str) -> Path:
        value = self.get(key)
        if not value:
            raise ConfigError(f"configuration key {key!r} is not set")
        return Path(value)


config = Config()
"""The portal's configuration: the one object every layer reads (it is
``heliograph.plugins.toolkit.config`` and ``heliograph.logic.config``).
:func:`heliograph.web.make_app` fills it with :func:`install`; until then it
answers the declared defaults. Keep the object, do not rebind it: extensions
hold references to it."""


def install(values: c.Mapping[str, t.Any]) -> Config:
    """Make :data:`config` hold exactly ``values``; returns :data:`config`."""
    config.replace(values)
    return config


def configured_plugins(values: c.Mapping[str, t.Any]) -> list[str]:
    """The plugin names of ``heliograph.plugins`` in ``values``."""
    return as_list(values.get("heliograph.plugins"))


def read_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The raw key/value pairs of an INI or TOML file."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"configuration file {str(file)!r} does not exist")
    if file.suffix == ".toml":
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"configuration file {str(file)!r} is not valid TOML: {exc}"
            ) from None
        table = data.get("heliograph") if isinstance(data.get("heliograph"), dict) else None
        flat: dict[str, str] = {}
        _flatten(data if table is None else {**data, **table}, "", flat)
        return flat
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(file.read_text(encoding="utf-8"), source=str(file))
    except configparser.Error as exc:
        raise ConfigError(f"configuration file {str(file)!r} is not valid INI: {exc}") from None
    sections = parser.sections()
    section = "app:main" if parser.has_section("app:main") else (sections[0] if sections else None)
    if section is None:
        raise ConfigError(f"configuration file {str(file)!r} has no section (use [app:main])")
    return dict(parser.items(section))


def _flatten(data: c.Mapping[str, t.Any], prefix: str, out: dict[str, str]) -> None:
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, f"{full}.", out)
        elif isinstance(value, bool):
            out[full] = "true" if value else "false"
        elif isinstance(value, list):
            out[full] = " ".join(str(v) for v in value)
        else:
            out[full] = str(value)


def load(
    file: str | os.PathLike[str] | None = None,
    overrides: c.Mapping[str, t.Any] | None = None,
    environ: c.Mapping[str, str] | None = None,
) -> Config:
    """Build the configuration: defaults < file < environment < ``overrides``.

    ``file`` defaults to ``$HELIOGRAPH_CONFIG`` when that is set. Paths that
    default to the instance folder are filled in; the folder and a secret key
    are created on first start.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, tuple[t.Any, str]] = {}
    for option in OPTIONS:
        if option.default is not None:
            raw[option.key] = (option.default, "the default")
    file = file or env.get("HELIOGRAPH_CONFIG") or None
    if file:
        for key, value in read_file(file).items():
            raw[key] = (value, f"file {str(file)!r}")
    for option in OPTIONS:
        if option.env in env:
            raw[option.key] = (env[option.env], f"environment variable {option.env}")
    for key, value in (overrides or {}).items():
        raw[key] = (value, "the application's arguments")

    parsed = Config()
    for key, (value, source) in raw.items():
        declared = _BY_KEY.get(key)
        if declared is None or not isinstance(value, str):
            parsed[key] = value
            continue
        try:
            parsed[key] = declared.parse(value)
        except ValueError as exc:
            raise ConfigError(
                f"configuration key {key!r} from {source} is malformed: {exc} (got {value!r})"
            ) from None
    for option in OPTIONS:
        if option.required and parsed.get(option.key) in (None, ""):
            raise ConfigError(f"configuration key {option.key!r} is required: {option.help}")
    _fill_instance_defaults(parsed)
    if COMMAND_LINE.announce is not None:
        COMMAND_LINE.announce(parsed)
    return parsed


def peek(
    key: str,
    file: str | os.PathLike[str] | None = None,
    environ: c.Mapping[str, str] | None = None,
) -> t.Any:
    """One declared key as :func:`load` would read it (default < file <
    environment), without creating the instance folder or anything else."""
    option = _BY_KEY.get(key)
    if option is None:
        raise ConfigError(f"configuration key {key!r} is not declared")
    env = os.environ if environ is None else environ
    value, source = option.default, "the default"
    file = file or env.get("HELIOGRAPH_CONFIG") or None
    if file:
        found = read_file(file)
        if key in found:
            value, source = found[key], f"file {str(file)!r}"
    if option.env in env:
        value, source = env[option.env], f"environment variable {option.env}"
    if value is None:
        return None
    try:
        return option.parse(value)
    except ValueError as exc:
        raise ConfigError(
            f"configuration key {key!r} from {source} is malformed: {exc} (got {value!r})"
        ) from None


def _fill_instance_defaults(parsed: Config) -> None:
    configured = COMMAND_LINE.chosen or parsed.get("heliograph.instance_path")
    instance = Path(configured or COMMAND_LINE.instance or Path.cwd() / "instance")
    if not configured and not COMMAND_LINE.create and not instance.is_dir():
        raise ConfigError(
            f"configuration key 'heliograph.instance_path': there is no portal instance at "
            f"{str(instance)!r} (none in the current folder nor beside this heliograph's "
            "pyproject.toml). Start the portal once (bash scripts/run.sh), run this command "
            "in the folder that holds its 'instance', or name it: heliograph --instance PATH, "
            "HELIOGRAPH_INSTANCE_PATH or a HELIOGRAPH_CONFIG file."
        )
    try:
        instance.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"configuration key 'heliograph.instance_path': cannot create {str(instance)!r}: {exc}"
        ) from None
    parsed["heliograph.instance_path"] = str(instance)
    if not parsed.get("sqlalchemy.url"):
        parsed["sqlalchemy.url"] = f"sqlite:///{instance / 'heliograph.db'}"
    if not parsed.get("heliograph.storage_path"):
        parsed["heliograph.storage_path"] = str(instance / "storage")
    if not parsed.get("heliograph.mail_folder"):
        parsed["heliograph.mail_folder"] = str(instance / "mail")
    if not parsed.get("heliograph.secret_key"):
        parsed["heliograph.secret_key"] = _instance_secret(instance)


def _instance_secret(instance: Path) -> str:
    """The secret kept in the instance folder, created (mode 0600) on first start."""
    path = instance / "secret_key"
    if path.is_file():
        secret = path.read_text(encoding="utf-8").strip()
        if secret:
            return secret
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secret)
    return secret
