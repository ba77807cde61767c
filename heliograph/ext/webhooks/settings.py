"""The plugin's configuration (``heliograph.webhooks.*`` keys), parsed and checked.

A malformed value raises ``toolkit.ConfigError`` naming the key.
"""

from __future__ import annotations

import ipaddress
import typing as t
from dataclasses import dataclass

from heliograph.plugins import toolkit as tk

PREFIX = "heliograph.webhooks."

SPEC_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 50400.0, 72000.0, 86400.0)
"""The Standard Webhooks retry schedule: immediately, 5 s, 5 min, 30 min, 2 h,
5 h, 10 h, 14 h, 20 h, 24 h (each delay after the attempt before)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Settings:
    allow_http: bool = False
    """Whether ``http://`` URLs are accepted (``https://`` always is)."""
    allowed_networks: tuple[Network, ...] = ()
    """Networks a hook may reach although they are loopback, private,
    link-local or otherwise not global (e.g. ``127.0.0.1/32`` for a test receiver)."""
    timeout_seconds: float = 15.0
    retry_schedule: tuple[float, ...] = SPEC_SCHEDULE
    retry_scale: float = 1.0
    """Every delay of the schedule (and of ``Retry-After``) is multiplied by
    this: ``0.001`` runs the whole schedule in a few minutes, for tests."""
    disable_after_seconds: float = 5 * 86400.0
    """A hook failing without a success for this long is disabled and its owner mailed."""
    rotation_seconds: float = 86400.0
    """How long the previous secret still signs after a rotation."""
    log_days: float = 30.0
    """How long the delivery log and the messages (for redelivery) are kept."""
    max_response_bytes: int = 65536

    def delays(self) -> tuple[float, ...]:
        """The schedule, scaled: the delay before each attempt (the first is 0)."""
        return tuple(delay * self.retry_scale for delay in self.retry_schedule)


_cache: tuple[tuple[t.Any, ...], Settings] | None = None


def _raw() -> tuple[t.Any, ...]:
    return tuple(tk.config.get(PREFIX + name) for name in _FIELDS)


_FIELDS = (
    "allow_http",
    "allowed_networks",
    "timeout_seconds",
    "retry_schedule",
    "retry_scale",
    "disable_after_seconds",
    "rotation_seconds",
    "log_days",
)


def current() -> Settings:
    """The settings in force (parsed again only when the configuration changed)."""
    global _cache
    raw = _raw()
    cached = _cache
    if cached is not None and cached[0] == raw:
        return cached[1]
    parsed = parse(dict(zip(_FIELDS, raw, strict=True)))
    _cache = (raw, parsed)
    return parsed


def parse(values: dict[str, t.Any]) -> Settings:
    found: dict[str, t.Any] = {}
    for name, value in values.items():
        if value is None or value == "":
            continue
        try:
            found[name] = _PARSERS[name](value)
        except (TypeError, ValueError) as exc:
            raise tk.ConfigError(
                f"configuration key {PREFIX + name!r} is malformed: {exc} (got {value!r})"
            ) from None
    return Settings(**found)


def _bool(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "yes", "on", "1"}:
        return True
    if text in {"false", "no", "off", "0"}:
        return False
    raise ValueError("expected true or false")


def _seconds(value: t.Any) -> float:
    number = float(value)
    if not number >= 0 or number == float("inf"):
        raise ValueError("expected a number of seconds, 0 or more")
    return number


def _positive(value: t.Any) -> float:
    number = _seconds(value)
    if number <= 0:
        raise ValueError("expected a number above 0")
    return number


def _items(value: t.Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    return str(value).replace(",", " ").split()


def _schedule(value: t.Any) -> tuple[float, ...]:
    delays = tuple(_seconds(item) for item in _items(value))
    if not delays:
        raise ValueError("expected at least one delay")
    return delays


def _networks(value: t.Any) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in _items(value))
    except ValueError as exc:
        raise ValueError(f"expected networks such as 127.0.0.1/32 or ::1/128 ({exc})") from None


_PARSERS: dict[str, t.Callable[[t.Any], t.Any]] = {
    "allow_http": _bool,
    "allowed_networks": _networks,
    "timeout_seconds": _positive,
    "retry_schedule": _schedule,
    "retry_scale": _seconds,
    "disable_after_seconds": _positive,
    "rotation_seconds": _seconds,
    "log_days": _positive,
}
