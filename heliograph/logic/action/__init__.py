"""Core actions, grouped by verb as in CKAN (get, create, update, delete).

Each module lists its public actions in ``__all__``; every action checks its
auth function first, validates, then works on ``context['session']``.
"""

from __future__ import annotations

import typing as t

from heliograph import model
from heliograph.logic import (
    Action,
    Context,
    DataDict,
    ObjectNotFound,
    ValidationError,
    check_access,
    side_effect_free,
    uploads,
)
from heliograph.logic.validation import NUL_MESSAGE, require_mapping


def collect() -> dict[str, Action]:
    """The core actions by name. Everything in ``get`` is side-effect free."""
    from heliograph.logic.action import catalog, create, delete, get, jobs, update

    found: dict[str, Action] = {}
    for module in (get, create, update, delete, jobs, catalog):
        for name in getattr(module, "__all__", ()):
            fn = getattr(module, name)
            found[name] = side_effect_free(fn) if module is get else fn
    return found


# -- helpers the verb modules share ----------------------------------------------


def session_of(context: Context) -> t.Any:
    """The session the action works on (``context['session']``)."""
    return context.get("session", model.Session)


def require(data_dict: DataDict, *keys: str) -> list[str]:
    """The values of ``keys`` as strings; ValidationError naming every key that
    is missing or not a string."""
    errors: dict[str, list[str]] = {}
    values = []
    for key in keys:
        value = data_dict.get(key)
        if value is None or value == "":
            errors[key] = ["Missing value"]
        elif not isinstance(value, str):
            errors[key] = ["Must be a string"]
        elif "\x00" in value:
            errors[key] = [NUL_MESSAGE]
        values.append(str(value))
    if errors:
        raise ValidationError(errors)
    return values


Row = t.TypeVar("Row", model.Package, model.User)


def target(
    context: Context,
    data_dict: DataDict,
    lookup: t.Callable[[Context, t.Any], Row | None],
    missing: str,
    action: str,
) -> tuple[DataDict, Row]:
    """The object ``data_dict['id']`` names (through ``lookup``; ObjectNotFound
    with ``missing`` when there is none), once the caller passed ``action``'s
    auth with that id."""
    data_dict = require_mapping(data_dict)
    (ref,) = require(data_dict, "id")
    found = lookup(context, ref)
    if found is None:
        raise ObjectNotFound(missing)
    check_access(action, context, {**data_dict, "id": found.id})
    return data_dict, found


def active_resource(context: Context, resource_id: str) -> model.Resource:
    """The active resource ``resource_id``; ObjectNotFound otherwise."""
    resource = session_of(context).get(model.Resource, resource_id)
    if resource is None or resource.state != model.tables.ACTIVE:
        raise ObjectNotFound("Resource was not found.")
    return t.cast(model.Resource, resource)


def unwrap_resource_errors(exc: ValidationError, index: int) -> ValidationError:
    """The error of resource ``index`` out of ``package_update``'s errors."""
    resources = exc.error_dict.get("resources")
    if isinstance(resources, list):
        try:
            item = resources[index]
        except IndexError:
            item = None
        if isinstance(item, dict) and item:
            return ValidationError(item)
    return exc


NOT_RESOURCE_KEYS = ("package_id", "upload", "clear_upload")


def stage_upload(
    context: Context, data_dict: DataDict, resource: dict[str, t.Any]
) -> uploads.Staged | None:
    """Stage the file in ``data_dict['upload']``, if any, and make ``resource``
    describe it (``url`` = its clean name, ``url_type`` = ``upload``, ``size``,
    ``mimetype`` and ``format`` unless given: the format is guessed from the
    file's name, else its type)."""
    upload = data_dict.get("upload")
    if not uploads.given(upload):
        return None
    staged = uploads.stage(upload, session_of(context))
    resource["url"] = staged.filename
    resource["url_type"] = "upload"
    resource["size"] = staged.size
    if not resource.get("mimetype"):
        resource["mimetype"] = staged.mimetype
    if not resource.get("format"):
        guessed = uploads.guess_format(staged.filename, resource.get("mimetype"))
        if guessed:
            resource["format"] = guessed
    return staged
