"""Column types, identifiers and value conversion for the datastore.

Every identifier that reaches SQL is checked against a strict pattern here
*and* quoted where it is used; every value is bound as a parameter. A value
is converted in Python before it is written, so a bad one is reported with
its field and row instead of surfacing as a database error.
"""

from __future__ import annotations

import collections.abc as c
import datetime as dt
import decimal
import json
import math
import re
import typing as t

TYPES: tuple[str, ...] = ("text", "int", "numeric", "float", "bool", "date", "timestamp", "json")
"""The column types; CKAN's (PostgreSQL) names for them are accepted as aliases."""

ALIASES: dict[str, str] = {
    "string": "text",
    "varchar": "text",
    "character varying": "text",
    "integer": "int",
    "int2": "int",
    "int4": "int",
    "int8": "int",
    "smallint": "int",
    "bigint": "int",
    "decimal": "numeric",
    "float4": "float",
    "float8": "float",
    "real": "float",
    "double precision": "float",
    "double": "float",
    "boolean": "bool",
    "datetime": "timestamp",
    "timestamp without time zone": "timestamp",
    "jsonb": "json",
    "nested": "json",
}

SQL_TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "text": "TEXT",
        "int": "INTEGER",
        "numeric": "NUMERIC",
        "float": "REAL",
        "bool": "BOOLEAN",
        "date": "TEXT",
        "timestamp": "TEXT",
        "json": "TEXT",
    },
    "postgresql": {
        "text": "TEXT",
        "int": "BIGINT",
        "numeric": "NUMERIC",
        "float": "DOUBLE PRECISION",
        "bool": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "json": "JSONB",
    },
}

RESOURCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
FIELD_ID = re.compile(r"[^\W_][\w .\-]{0,62}")
"""Field ids: a letter or digit first (never ``_``, which the datastore keeps
for itself), then letters, digits, ``_``, spaces, ``.`` and ``-``; at most 63
characters (and 63 bytes: PostgreSQL's limit), no trailing space."""

INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class BadValue(ValueError):
    """A value that does not fit its column; the message says what would."""


def normalize_type(name: t.Any) -> str | None:
    """The column type ``name`` stands for, or None when it is not one."""
    if not isinstance(name, str):
        return None
    lowered = " ".join(name.strip().lower().split())
    lowered = ALIASES.get(lowered, lowered)
    return lowered if lowered in TYPES else None


def valid_field_id(name: t.Any) -> bool:
    return (
        isinstance(name, str)
        and FIELD_ID.fullmatch(name) is not None
        and not name.endswith(" ")
        and len(name.encode("utf-8")) <= 63
    )


def valid_resource_id(name: t.Any) -> bool:
    return isinstance(name, str) and RESOURCE_ID.fullmatch(name) is not None


def quote(name: str) -> str:
    """``name`` as a quoted SQL identifier (already validated; quoting is the second guard)."""
    return '"' + name.replace('"', '""') + '"'


# -- conversion of values to what the database stores --------------------------------

_TRUE = frozenset({"true", "t", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "off", "0"})
_INT_TEXT = re.compile(r"[+-]?\d+")


def _describe(value: t.Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def _to_text(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, decimal.Decimal)):
        return str(value)
    raise BadValue(f'"{_describe(value)}" is not text')


def _to_int(value: t.Any) -> int:
    if isinstance(value, bool):
        raise BadValue(f'"{_describe(value)}" is not a whole number')
    number: int
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise BadValue(f'"{_describe(value)}" is not a whole number')
    if not INT_MIN <= number <= INT_MAX:
        raise BadValue(f'"{number}" is out of range for an int')
    return number


def _to_decimal(value: t.Any) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, decimal.Decimal)):
        raise BadValue(f'"{_describe(value)}" is not a number')
    try:
        number = decimal.Decimal(value.strip() if isinstance(value, str) else value)
    except decimal.InvalidOperation:
        raise BadValue(f'"{_describe(value)}" is not a number') from None
    if not number.is_finite():
        raise BadValue(f'"{_describe(value)}" is not a finite number')
    return number


def _to_float(value: t.Any) -> float:
    if isinstance(value, float):
        number = value
    elif isinstance(value, bool) or not isinstance(value, (int, str, decimal.Decimal)):
        raise BadValue(f'"{_describe(value)}" is not a number')
    else:
        try:
            number = float(value)
        except (ValueError, OverflowError):
            raise BadValue(f'"{_describe(value)}" is not a number') from None
    if not math.isfinite(number):
        raise BadValue(f'"{_describe(value)}" is not a finite number')
    return number


def _to_bool(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise BadValue(f'"{_describe(value)}" is not true or false')


def _to_timestamp(value: t.Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        stamp = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise BadValue(
                f'"{_describe(value)}" is not a timestamp (use ISO 8601: 2024-05-01T12:00:00)'
            ) from None
    else:
        raise BadValue(f'"{_describe(value)}" is not a timestamp')
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return stamp


def _to_date(value: t.Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
        try:
            return dt.datetime.fromisoformat(text).date()
        except ValueError:
            raise BadValue(f'"{_describe(value)}" is not a date (use 2024-05-01)') from None
    raise BadValue(f'"{_describe(value)}" is not a date')


def _to_json(value: t.Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        raise BadValue(f'"{_describe(value)}" is not JSON') from None


Converter = c.Callable[[t.Any], t.Any]


def _with_null(convert: Converter, exact: type | None, empty_is_null: bool) -> Converter:
    """``convert`` with the fast path (``exact`` type passes through) and NULLs."""
    if exact is not None:

        def fast(value: t.Any) -> t.Any:
            if value.__class__ is exact:
                return value
            if value is None or (empty_is_null and value == ""):
                return None
            return convert(value)

        return fast

    def plain(value: t.Any) -> t.Any:
        if value is None or (empty_is_null and value == ""):
            return None
        return convert(value)

    return plain


def _sqlite_numeric(value: t.Any) -> int | float:
    number = _to_decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


def _write_int(value: t.Any) -> t.Any:
    if value.__class__ is int and INT_MIN <= value <= INT_MAX:
        return value
    if value is None or value == "":
        return None
    return _to_int(value)


def writers(dialect: str) -> dict[str, Converter]:
    """Per column type, the function turning an input value into the bound value
    (None, or raising :class:`BadValue`)."""
    sqlite = dialect == "sqlite"
    return {
        "text": _with_null(_to_text, str, empty_is_null=False),
        "int": _write_int,
        "numeric": _with_null(_sqlite_numeric if sqlite else _to_decimal, None, True),
        "float": _with_null(_to_float, float, empty_is_null=True),
        "bool": _with_null(
            (lambda v: int(_to_bool(v))) if sqlite else _to_bool,
            None if sqlite else bool,
            empty_is_null=True,
        ),
        "date": _with_null((lambda v: _to_date(v).isoformat()) if sqlite else _to_date, None, True),
        "timestamp": _with_null(
            (lambda v: _to_timestamp(v).isoformat()) if sqlite else _to_timestamp, None, True
        ),
        "json": _with_null(_to_json, None, empty_is_null=False),
    }


# -- conversion of stored values to JSON-ready ones ---------------------------------


def _read_numeric(value: t.Any) -> t.Any:
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _read_iso(value: t.Any) -> t.Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def _read_bool(value: t.Any) -> t.Any:
    return None if value is None else bool(value)


def _read_json(value: t.Any) -> t.Any:
    return json.loads(value) if isinstance(value, str) else value


def _same(value: t.Any) -> t.Any:
    return value


def readers(dialect: str) -> dict[str, Converter]:
    """Per column type, the function turning a stored value into a JSON-ready one."""
    return {
        "text": _same,
        "int": _same,
        "numeric": _read_numeric,
        "float": _same,
        "bool": _read_bool,
        "date": _read_iso,
        "timestamp": _read_iso,
        "json": _read_json if dialect == "sqlite" else _same,
    }


# -- type guessing (CKAN's rules, from the first record) ----------------------------


def guess_type(value: t.Any) -> str | None:
    """The type CKAN would guess for ``value``, or None when it cannot tell."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, (dict, list)):
        return "json"
    if isinstance(value, str):
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            return "int"
        try:
            decimal.Decimal(text)
        except decimal.InvalidOperation:
            pass
        else:
            if text and text.lower() not in ("nan", "inf", "-inf", "infinity", "-infinity"):
                return "numeric"
        try:
            dt.datetime.fromisoformat(text)
        except ValueError:
            return "text"
        return "timestamp"
    return "text"


# -- whole columns at once (the fast path of a write) -------------------------------

_NONE = type(None)


def convert_column(kind: str, values: list[t.Any], dialect: str) -> list[t.Any] | None:
    """``values`` converted for a column of type ``kind``, with C-level loops, when
    every value already has the plain shape (no NULLs, no empty strings); None
    when the caller must convert value by value (which reports bad values)."""
    shapes = set(map(type, values))
    sqlite = dialect == "sqlite"
    try:
        if kind == "text":
            return values if shapes <= {str, _NONE} else None
        if not values:
            return values
        if kind == "int":
            if shapes == {int} and min(values) >= INT_MIN and max(values) <= INT_MAX:
                return values
            return None
        if kind == "float":
            if shapes == {float} and all(map(math.isfinite, values)):
                return values
            if shapes == {int} and max(map(abs, values)) < 2**53:
                return list(map(float, values))
            return None
        if kind == "bool":
            if shapes == {bool}:
                return list(map(int, values)) if sqlite else values
            return None
        if kind == "date" and shapes == {str}:
            parsed = list(map(dt.date.fromisoformat, values))
            if not sqlite:
                return parsed
            return values if set(map(len, values)) == {10} else list(map(dt.date.isoformat, parsed))
        if kind == "timestamp" and shapes == {str}:
            stamps = list(map(dt.datetime.fromisoformat, values))
            if any(s.tzinfo is not None for s in stamps):
                return None
            return list(map(dt.datetime.isoformat, stamps)) if sqlite else stamps
    except (ValueError, TypeError):
        return None
    return None
