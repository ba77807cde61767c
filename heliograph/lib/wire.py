"""Wire forms: what a signal's send looks like once it crosses a process.

Background receivers run in a worker, after the commit, and get the send as
JSON. :func:`jsonable` checks and converts a value (naming the argument that
cannot cross), :func:`redact` takes secrets out, and the helpers below build
the wire forms the core signals declare in their contracts.
"""

from __future__ import annotations

import collections.abc as c
import datetime as dt
import decimal
import json
import re
import typing as t
import uuid

from heliograph.signals.contract import WireForm

__all__ = [
    "REDACTED",
    "SECRET_KEYS",
    "WireError",
    "action_wire",
    "encode",
    "jsonable",
    "plain_wire",
    "redact",
    "user_wire",
]

REDACTED = "[redacted]"
"""What a secret's value becomes on the wire."""

SECRET_KEYS = frozenset(
    {
        "password",
        "password1",
        "password2",
        "old_password",
        "token",
        "api_token",
        "apikey",
        "api_key",
        "reset_key",
        "secret",
        "reset_key_hash",
        "password_hash",
    }
)
"""Keys whose values never reach a background receiver, at any depth."""


class WireError(TypeError):
    """A send's arguments cannot cross a process as JSON; the message names
    the signal and the argument."""


def jsonable(value: t.Any, where: str) -> t.Any:
    """``value`` as JSON values: str, int, float, bool, None, lists and dicts
    with str keys; datetimes and dates become ISO strings, UUIDs and Decimals
    strings, tuples lists. Anything else raises :class:`WireError` naming
    ``where`` (e.g. ``"argument 'records'[3]['when']"``)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise WireError(f"{where} is {value!r}, which JSON cannot carry")
        return value
    if isinstance(value, c.Mapping):
        out: dict[str, t.Any] = {}
        for key, item in value.items():
            if not (key is None or isinstance(key, (str, int, float, bool))):
                raise WireError(f"{where} has a key {key!r} that JSON cannot carry")
            out[key if isinstance(key, str) else json.dumps(key)] = jsonable(
                item, f"{where}[{key!r}]"
            )
        return out
    if isinstance(value, (list, tuple)):
        return [jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    raise WireError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, which cannot "
        "be sent to background receivers as JSON; send JSON values (str, int, float, "
        "bool, None, lists, dicts), or ids instead of objects"
    )


def _default(value: t.Any) -> t.Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, c.Mapping):
        return dict(value)
    raise TypeError(type(value).__qualname__)


_SECRET = re.compile('"(?:' + "|".join(sorted(SECRET_KEYS)) + ')":')


def encode(values: t.Any, where: str) -> str:
    """``values`` as JSON text (what :func:`jsonable` allows, at C speed), with
    :data:`SECRET_KEYS` redacted; raises :class:`WireError` naming ``where``
    (and, for a dict of arguments, the argument) when it cannot be encoded."""
    try:
        text = json.dumps(values, default=_default, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        if isinstance(values, dict) and where == "arguments":
            for name, value in values.items():
                jsonable(value, f"argument {name!r}")
        jsonable(values, where)
        raise WireError(f"{where} cannot be sent to background receivers as JSON") from None
    if _SECRET.search(text):
        text = json.dumps(redact(json.loads(text)), separators=(",", ":"))
    return text


def redact(value: t.Any) -> t.Any:
    """A copy of JSON ``value`` with the values of :data:`SECRET_KEYS` replaced
    by :data:`REDACTED`, at any depth."""
    if isinstance(value, dict):
        return {
            key: (REDACTED if key in SECRET_KEYS and item is not None else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _plain(sender: t.Any, kwargs: c.Mapping[str, t.Any]) -> tuple[t.Any, dict[str, t.Any]]:
    return sender, dict(kwargs)


def _sender_key(sender: t.Any, _kwargs: c.Mapping[str, t.Any]) -> str:
    return str(sender)


plain_wire = WireForm(
    convert=_plain,
    key=_sender_key,
    description=(
        "the sender and every keyword argument as JSON (secrets redacted); ordered by sender."
    ),
)
"""The wire form of a signal without a declared one: the sender and each
argument must be JSON values; events are ordered per sender."""


def _user_ref(user: t.Any) -> dict[str, t.Any] | None:
    if user is None:
        return None
    if isinstance(user, c.Mapping):
        return {"id": user.get("id"), "name": user.get("name")}
    return {"id": getattr(user, "id", None), "name": getattr(user, "name", None)}


def _user_convert(sender: t.Any, kwargs: c.Mapping[str, t.Any]) -> tuple[t.Any, dict[str, t.Any]]:
    wire_sender = sender if isinstance(sender, (str, int)) or sender is None else None
    if wire_sender is None and sender is not None:
        wire_sender = getattr(sender, "name", None)  # the Flask application: its name
    return wire_sender, {"user": _user_ref(kwargs.get("user"))}


def _user_key(sender: t.Any, kwargs: c.Mapping[str, t.Any]) -> str:
    ref = _user_ref(kwargs.get("user"))
    return str((ref or {}).get("id") or sender)


user_wire = WireForm(
    convert=_user_convert,
    key=_user_key,
    description=(
        "``user`` as ``{'id', 'name'}`` (never the e-mail, password or tokens); "
        "a Flask application sender becomes its name; ordered by user id."
    ),
)
"""Signals about a user: the user object reduced to its id and name."""


def _caller(context: t.Any) -> dict[str, t.Any]:
    if not isinstance(context, c.Mapping):
        return {"user": None, "user_id": None}
    # The caller: ``user_obj`` may be the user an action is about, not who called it.
    user_obj = context.get("auth_user_obj")
    return {"user": context.get("user"), "user_id": getattr(user_obj, "id", None)}


def _action_convert(sender: t.Any, kwargs: c.Mapping[str, t.Any]) -> tuple[t.Any, dict[str, t.Any]]:
    wired: dict[str, t.Any] = {"action": sender, "context": _caller(kwargs.get("context"))}
    for name in ("data_dict", "result"):
        if name in kwargs:
            wired[name] = kwargs[name]
    return sender, wired


def _action_key(sender: t.Any, kwargs: c.Mapping[str, t.Any]) -> str:
    result = kwargs.get("result")
    if isinstance(result, c.Mapping) and isinstance(result.get("id"), str):
        return str(result["id"])
    context = kwargs.get("context")
    package = context.get("package") if isinstance(context, c.Mapping) else None
    if str(sender).startswith("package_") and isinstance(getattr(package, "id", None), str):
        # package_delete by name: the dataset's id, as its other events are keyed.
        return str(package.id)  # type: ignore[union-attr]
    data = kwargs.get("data_dict")
    if isinstance(data, c.Mapping):
        for name in ("id", "name"):
            if isinstance(data.get(name), str) and data[name]:
                return str(data[name])
    return str(sender)


action_wire = WireForm(
    convert=_action_convert,
    key=_action_key,
    description=(
        "``action`` (the action name), ``context`` reduced to the caller "
        "(``{'user': name, 'user_id': id}``), ``data_dict`` and ``result`` as JSON, "
        "with secrets (``password``, ``old_password``, tokens, ...) redacted; ordered "
        "by the id of the object the action is about (the result's ``id``, else the "
        "id of the context's ``package`` for a ``package_*`` action, else the input's "
        "``id`` or ``name``). "
        "In-process receivers still get the action's own "
        "context and dicts, unredacted, as in CKAN."
    ),
)
"""The actions' signals: the caller instead of the whole context."""
