"""The configuration the logic layer reads: ``heliograph.logic.config``.

The web application factory fills :data:`config` with the parsed
configuration (``config.update(app_config)``, or :meth:`Settings.replace`).
Until then, and for any declared key it does not hold, a lookup answers the
key's declared default from :mod:`heliograph.config` - computed without
touching the disk, so importing the logic layer never creates an instance
folder.

Values may arrive typed (from :func:`heliograph.config.load`) or as raw
strings (a plain dict handed over by a test or a plugin); :meth:`as_bool`
and :meth:`as_int` accept both, so ``"false"`` is never mistaken for true.
"""

from __future__ import annotations

import collections.abc as c
import typing as t

from heliograph import config as config_module

# CKAN auth settings heliograph does not declare (yet), with CKAN 2.11's defaults.
_UNDECLARED_DEFAULTS: dict[str, t.Any] = {
    "heliograph.locale_default": "en",
    "heliograph.error_emails_to": None,
    "heliograph.group_and_organization_list_max": 1000,
    "heliograph.group_and_organization_list_all_fields_max": 25,
}


def _declared_defaults() -> dict[str, t.Any]:
    defaults = dict(_UNDECLARED_DEFAULTS)
    for option in config_module.OPTIONS:
        if option.default is None:
            continue
        try:
            defaults[option.key] = option.parse(option.default)
        except ValueError:  # a declared default that does not parse is the config's bug
            defaults[option.key] = option.default
    return defaults


DEFAULTS: dict[str, t.Any] = _declared_defaults()

_TRUE = frozenset({"true", "yes", "on", "1", "t", "y"})


class Settings(dict[str, t.Any]):
    """A dict of configuration values that falls back to declared defaults."""

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
        self.clear()
        self.update(values)

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
        value = self.get(key, [])
        if isinstance(value, str):
            return value.replace(",", " ").split()
        return [str(v) for v in value or []]

    def auth(self, rule: str) -> bool:
        """The CKAN auth rule ``rule`` (``heliograph.auth.<rule>``), as a bool."""
        return self.as_bool(f"heliograph.auth.{rule}")


config = Settings()
"""The configuration the actions and auth functions read."""
