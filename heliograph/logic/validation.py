"""Small composable validators that collect a dict of field errors.

A *schema* maps each field name to a chain of validators. A validator is a
callable ``(value, state) -> value``: it returns the (possibly converted)
value, raises :class:`Invalid` with a message for the field, or raises
:class:`StopChain` to end the chain early and leave the field out
(``ignore_missing`` does, for an absent or None value). A field that is
absent from the input comes in as :data:`missing`; if it is still
:data:`missing` at the end of its chain it is left out of the result.

:func:`validate` runs every chain and returns ``(clean, errors)``;
:func:`validate_or_raise` raises :class:`~heliograph.logic.ValidationError`
with the collected errors. Wrong types (a list where a string belongs, a
dict for a number) are ordinary validation errors naming the field, never a
``TypeError``. Messages follow CKAN's wording.
"""

from __future__ import annotations

import collections.abc as c
import datetime as dt
import json
import re
import typing as t
import uuid
from dataclasses import dataclass, field

from heliograph.config import config
from heliograph.logic import Context, ValidationError


class _Missing:
    """The value of a field that is absent from the input."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "missing"

    def __bool__(self) -> bool:
        return False


missing: t.Any = _Missing()


class Invalid(Exception):
    """The field's value is wrong; ``error`` is a message (or nested errors)."""

    def __init__(self, error: t.Any) -> None:
        super().__init__(error)
        self.error = error


class StopChain(Exception):
    """End the field's chain here and leave the field out of the result."""


@dataclass
class State:
    """What a validator may look at besides its value."""

    context: Context
    data: c.Mapping[str, t.Any]
    """The raw input."""
    clean: dict[str, t.Any] = field(default_factory=dict)
    """The fields validated so far, in schema order."""
    key: str = ""
    extra: dict[str, t.Any] = field(default_factory=dict)
    """Whatever the caller passes along (e.g. the object being updated)."""


Validator = c.Callable[[t.Any, State], t.Any]
Schema = c.Mapping[str, c.Sequence[Validator]]


def validate(
    data: c.Mapping[str, t.Any],
    schema: Schema,
    context: Context | None = None,
    **extra: t.Any,
) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """Run ``schema`` over ``data``; return the clean values and the errors.

    Keys of ``data`` that the schema does not name are dropped.
    """
    state = State(context=context if context is not None else {}, data=data, extra=extra)
    errors: dict[str, t.Any] = {}
    for key, chain in schema.items():
        state.key = key
        value = data.get(key, missing)
        try:
            for validator in chain:
                value = validator(value, state)
        except StopChain:
            continue
        except Invalid as exc:
            add_error(errors, key, exc.error)
            continue
        if value is not missing:
            state.clean[key] = value
    return state.clean, errors


def validate_or_raise(
    data: c.Mapping[str, t.Any],
    schema: Schema,
    context: Context | None = None,
    **extra: t.Any,
) -> dict[str, t.Any]:
    clean, errors = validate(data, schema, context, **extra)
    if errors:
        raise ValidationError(errors)
    return clean


def add_error(errors: dict[str, t.Any], key: str, error: t.Any) -> None:
    """Add ``error`` (a message, or a nested structure) under ``key``."""
    if isinstance(error, str):
        errors.setdefault(key, [])
        if isinstance(errors[key], list):
            errors[key].append(error)
    else:
        errors[key] = error


def require_mapping(data: t.Any, what: str = "data") -> dict[str, t.Any]:
    """``data`` as a dict, or a ValidationError when it is something else."""
    if data is None:
        return {}
    if not isinstance(data, c.Mapping):
        raise ValidationError({what: ["Must be a JSON object"]})
    return dict(data)


# -- presence -------------------------------------------------------------------


def is_empty(value: t.Any) -> bool:
    return value is missing or value is None or value == "" or value == [] or value == {}


def not_empty(value: t.Any, state: State) -> t.Any:
    if is_empty(value):
        raise Invalid("Missing value")
    return value


def not_missing(value: t.Any, state: State) -> t.Any:
    if value is missing:
        raise Invalid("Missing value")
    return value


def ignore_missing(value: t.Any, state: State) -> t.Any:
    """Stop here, leaving the field out, when it is absent or None."""
    if value is missing or value is None:
        raise StopChain
    return value


def ignore_empty(value: t.Any, state: State) -> t.Any:
    """Stop here, leaving the field out, when it is absent, None or empty."""
    if is_empty(value):
        raise StopChain
    return value


def ignore(value: t.Any, state: State) -> t.Any:
    """Drop the field whatever it holds."""
    return missing


def empty_to_none(value: t.Any, state: State) -> t.Any:
    return None if value == "" else value


def default(fallback: t.Any) -> Validator:
    """Use ``fallback`` when the field is absent, None or empty."""

    def _default(value: t.Any, state: State) -> t.Any:
        if value is missing or value is None or value == "":
            return fallback() if callable(fallback) else fallback
        return value

    return _default


def if_empty_same_as(other: str) -> Validator:
    """Use the (validated) value of field ``other`` when this one is empty."""

    def _same_as(value: t.Any, state: State) -> t.Any:
        if value is missing or value is None or value == "":
            return state.clean.get(other, missing)
        return value

    return _same_as


# -- types ----------------------------------------------------------------------


def string_type(message: str = "Must be a string") -> Validator:
    """Accept a string; numbers become strings (form posts send them so);
    anything else (lists, dicts, booleans) is an error with ``message``."""

    def _string(value: t.Any, state: State) -> t.Any:
        if value is missing or value is None:
            return value
        if isinstance(value, str):
            if "\x00" in value:
                raise Invalid(NUL_MESSAGE)
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise Invalid(message)

    return _string


NUL_MESSAGE = "Must not contain NUL characters"


unicode_safe = string_type()


# -- bounded search input ---------------------------------------------------------

MAX_TEXT_KEY = "heliograph.search.max_text_length"
MAX_TERMS_KEY = "heliograph.search.max_terms"
MAX_ITEMS_KEY = "heliograph.search.max_list_items"


def search_text_error(value: str) -> str | None:
    """Why ``value`` is too big for a search parameter (None when it is not).

    The length is checked first, so an oversized value is refused without
    being read past the bound.
    """
    limit = config.as_int(MAX_TEXT_KEY, 2000)
    if len(value) > limit:
        return f"Must be at most {limit} characters long (configuration key {MAX_TEXT_KEY})"
    terms = count_terms(value)
    most = config.as_int(MAX_TERMS_KEY, 50)
    if terms > most:
        return f"Must hold at most {most} search terms (configuration key {MAX_TERMS_KEY})"
    return None


def count_terms(value: str) -> int:
    """The words of a search text (quotes not honoured: an upper bound)."""
    return len(value.split())


def search_list_error(value: c.Sized) -> str | None:
    """Why the list ``value`` is too long for a search parameter (or None)."""
    most = config.as_int(MAX_ITEMS_KEY, 1000)
    if len(value) > most:
        return f"Must hold at most {most} items (configuration key {MAX_ITEMS_KEY})"
    return None


def check_search_text(field: str, value: t.Any) -> None:
    """Raise a ValidationError naming ``field`` when the text ``value`` (or a
    list of texts) is past the search bounds; other values pass."""
    if isinstance(value, str):
        error = search_text_error(value)
    elif isinstance(value, list | tuple):
        error = search_list_error(value)
        for item in value if error is None else ():
            if isinstance(item, str) and (error := search_text_error(item)):
                break
    else:
        error = None
    if error:
        raise ValidationError({field: [error]})


def search_text(value: t.Any, state: State) -> t.Any:
    """A string within the search bounds (:func:`search_text_error`)."""
    value = unicode_safe(value, state)
    if isinstance(value, str) and (error := search_text_error(value)):
        raise Invalid(error)
    return value


def search_text_list(value: t.Any, state: State) -> t.Any:
    """A list of strings (as :func:`list_of_strings`), each within the search
    bounds, and at most ``heliograph.search.max_list_items`` of them."""
    if isinstance(value, list | tuple) and (error := search_list_error(value)):
        raise Invalid(error)
    value = list_of_strings(value, state)
    if isinstance(value, list):
        if error := search_list_error(value):
            raise Invalid(error)
        for item in value:
            if error := search_text_error(item):
                raise Invalid(error)
    return value


def strip(value: t.Any, state: State) -> t.Any:
    return value.strip() if isinstance(value, str) else value


_TRUE = frozenset({"true", "yes", "t", "y", "1", "on"})


def boolean_validator(value: t.Any, state: State) -> t.Any:
    """CKAN's rule: true for 'true', 'yes', 't', 'y', '1', 'on' (any case)
    and True; false for everything else that is a scalar."""
    if value is missing or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    raise Invalid("Must be a boolean (true or false)")


def int_validator(value: t.Any, state: State) -> t.Any:
    if value is missing or value is None or value == "":
        return value
    if isinstance(value, bool):
        raise Invalid("Invalid integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise Invalid("Invalid integer")
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise Invalid("Invalid integer") from None
    raise Invalid("Invalid integer")


def natural_number_validator(value: t.Any, state: State) -> t.Any:
    value = int_validator(value, state)
    if isinstance(value, int) and value < 0:
        raise Invalid("Must be a natural number")
    return value


MAX_PAGE = 2**31 - 1


def page_number(value: t.Any, state: State) -> t.Any:
    """A natural number for paging (``limit``, ``offset``, ``rows``, ``start``);
    numbers past any real table size are clamped, so the database never sees
    an integer it cannot hold."""
    value = natural_number_validator(value, state)
    return min(value, MAX_PAGE) if isinstance(value, int) else value


def is_positive_integer(value: t.Any, state: State) -> t.Any:
    value = int_validator(value, state)
    if isinstance(value, int) and value < 1:
        raise Invalid("Must be a positive integer")
    return value


def list_of_strings(value: t.Any, state: State) -> t.Any:
    """A list of strings; a single string becomes a one-item list, and a
    string holding a JSON list is decoded (GET parameters arrive so)."""
    if value is missing or value is None:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise Invalid("Must be a list of strings") from None
        else:
            value = [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        if any("\x00" in v for v in value):
            raise Invalid(NUL_MESSAGE)
        return list(value)
    raise Invalid("Must be a list of strings")


def one_of(choices: c.Collection[t.Any], message: str | None = None) -> Validator:
    def _one_of(value: t.Any, state: State) -> t.Any:
        if value is missing or value is None:
            return value
        try:
            ok = value in choices
        except TypeError:
            ok = False
        if not ok:
            raise Invalid(message or f"Value must be one of {', '.join(map(str, choices))}")
        return value

    return _one_of


def max_length(limit: int, message: str) -> Validator:
    def _max_length(value: t.Any, state: State) -> t.Any:
        if isinstance(value, str) and len(value) > limit:
            raise Invalid(message)
        return value

    return _max_length


def isodate(value: t.Any, state: State) -> t.Any:
    """An ISO 8601 date or date-time, stored as naive UTC."""
    if value is missing or value is None or value == "":
        return None if value == "" else value
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise Invalid("Date format incorrect")
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("Date format incorrect") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def uuid_validator(value: t.Any, state: State) -> t.Any:
    if value is missing or value is None:
        return value
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise Invalid("Must be a valid UUID") from None


def json_value(value: t.Any, state: State) -> t.Any:
    """Any value that can be stored as JSON."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise Invalid("Must be a JSON value (string, number, boolean, list or object)") from None
    return value


# -- names, e-mail, passwords -----------------------------------------------------

NAME_RE = re.compile(r"^[a-z0-9_-]*$")
RESERVED_NAMES = frozenset({"new", "edit", "search"})
MIN_NAME_LENGTH = 2
MAX_NAME_LENGTH = 100


def name_validator(value: t.Any, state: State) -> t.Any:
    """CKAN's rules for dataset, group, organization and user names."""
    if value is missing or value is None:
        return value
    if not isinstance(value, str):
        raise Invalid("Names must be strings")
    if value in RESERVED_NAMES:
        raise Invalid("That name cannot be used")
    if len(value) < MIN_NAME_LENGTH:
        raise Invalid(f"Must be at least {MIN_NAME_LENGTH} characters long")
    if len(value) > MAX_NAME_LENGTH:
        raise Invalid(f"Name must be a maximum of {MAX_NAME_LENGTH} characters long")
    if not NAME_RE.match(value):
        raise Invalid(
            "Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"
        )
    return value


MAX_EMAIL_LENGTH = 254
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_validator(value: t.Any, state: State) -> t.Any:
    if value is missing or value is None or value == "":
        return value
    if not isinstance(value, str) or len(value) > MAX_EMAIL_LENGTH or not EMAIL_RE.match(value):
        raise Invalid(f"Email {value} is not a valid format")
    return value


MIN_PASSWORD_LENGTH = 8


def password_validator(value: t.Any, state: State) -> t.Any:
    if value is missing or value is None:
        return value
    if not isinstance(value, str):
        raise Invalid("Passwords must be strings")
    if "\x00" in value:
        raise Invalid(NUL_MESSAGE)
    if len(value) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"Your password must be {MIN_PASSWORD_LENGTH} characters or longer")
    return value


TAG_RE = re.compile(r"^[\w \-.]*$", re.UNICODE)
MIN_TAG_LENGTH = 2
MAX_TAG_LENGTH = 100


def tag_name_errors(name: t.Any) -> list[str]:
    """CKAN's messages for a bad tag name (empty when the name is good)."""
    if not isinstance(name, str):
        return ["Tag names must be strings"]
    errors = []
    if len(name) < MIN_TAG_LENGTH:
        errors.append(f'Tag "{name}" length is less than minimum {MIN_TAG_LENGTH}')
    if len(name) > MAX_TAG_LENGTH:
        errors.append(f'Tag "{name}" length is more than maximum {MAX_TAG_LENGTH}')
    if not TAG_RE.match(name):
        errors.append(
            f'Tag "{name}" can only contain alphanumeric characters, spaces (" "), '
            'hyphens ("-"), underscores ("_") or dots (".")'
        )
    return errors


def list_of_dicts(value: t.Any, state: State) -> t.Any:
    if value is missing or value is None:
        return value
    if not isinstance(value, list | tuple) or not all(isinstance(v, c.Mapping) for v in value):
        raise Invalid("Must be a list of objects")
    return [dict(v) for v in value]


def nested(schema: Schema) -> Validator:
    """A list of dicts, each validated by ``schema``; errors come back as a
    list with one error dict per item (``{}`` for good items)."""

    def _nested(value: t.Any, state: State) -> t.Any:
        value = list_of_dicts(value, state)
        if value is missing or value is None:
            return value
        out, errors, bad = [], [], False
        for item in value:
            clean, item_errors = validate(item, schema, state.context, **state.extra)
            out.append(clean)
            errors.append(item_errors)
            bad = bad or bool(item_errors)
        if bad:
            raise Invalid(errors)
        return out

    return _nested
