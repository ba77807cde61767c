"""The schemas of the core actions, and the validators that need the database.

Each ``*_schema()`` function returns a fresh schema (a dict of validator
chains, see :mod:`heliograph.logic.validation`). Validators that look at the
database read ``state.context['session']``; the object being updated, when
there is one, comes in ``state.extra``.
"""

from __future__ import annotations

import typing as t

from sqlalchemy import func, or_, select

from heliograph import model
from heliograph.config import config
from heliograph.logic import auth as authz
from heliograph.logic.validation import (
    Invalid,
    Schema,
    State,
    StopChain,
    boolean_validator,
    default,
    email_validator,
    if_empty_same_as,
    ignore,
    ignore_empty,
    ignore_missing,
    int_validator,
    isodate,
    json_value,
    list_of_dicts,
    max_length,
    missing,
    name_validator,
    nested,
    not_empty,
    not_missing,
    one_of,
    page_number,
    password_validator,
    strip,
    tag_name_errors,
    unicode_safe,
    uuid_validator,
    validate,
)


def _session(state: State) -> t.Any:
    return state.context.get("session", model.Session)


def _taken_by_another(state: State, cls: t.Any, current_key: str, *where: t.Any) -> bool:
    """Whether a ``cls`` row matching ``where`` exists, other than the one being
    updated (``state.extra[current_key]``, when given)."""
    query = select(cls.id).where(*where)
    current = state.extra.get(current_key)
    if current is not None:
        query = query.where(cls.id != current.id)
    return _session(state).scalar(query) is not None


# -- datasets -----------------------------------------------------------------------


def package_name_unique(value: t.Any, state: State) -> t.Any:
    """No other non-deleted dataset has this name."""
    if not isinstance(value, str):
        return value
    if _taken_by_another(
        state,
        model.Package,
        "package",
        model.Package.name == value,
        model.Package.state != model.tables.DELETED,
    ):
        raise Invalid("That URL is already in use.")
    return value


def package_id_free(value: t.Any, state: State) -> t.Any:
    if value is missing or value is None:
        return value
    if _session(state).get(model.Package, value) is not None:
        raise Invalid("Dataset id already exists")
    return value


def empty_if_not_sysadmin(value: t.Any, state: State) -> t.Any:
    """Drop the field unless the caller is a sysadmin (or auth is ignored)."""
    if state.context.get("ignore_auth") or authz.is_sysadmin(state.context):
        return value
    raise StopChain


def _drop_if_not_sysadmin(value: t.Any, state: State) -> t.Any:
    if state.context.get("ignore_auth") or authz.is_sysadmin(state.context):
        return value
    return missing


def owner_org_validator(value: t.Any, state: State) -> t.Any:
    """CKAN's owner_org rules: required unless ``create_unowned_dataset``; the
    organization must exist; a new (or changed) owner needs the caller to hold
    ``create_dataset`` there. The value becomes the organization's id."""
    unowned_ok = config.auth("create_unowned_dataset")
    if value is missing or value is None or value == "":
        if not unowned_ok:
            raise Invalid("An organization must be provided")
        if value is missing:
            raise StopChain  # left out: an update keeps the stored owner
        return None
    if not isinstance(value, str):
        raise Invalid("Must be a string")
    org = authz.group_by_id_or_name(state.context, value)
    if org is None or not org.is_organization or org.state != model.tables.ACTIVE:
        raise Invalid("Organization does not exist")
    current = state.extra.get("package")
    if (
        (current is None or current.owner_org != org.id)
        and not state.context.get("ignore_auth")
        and not authz.has_permission(state.context, org.id, "create_dataset")
    ):
        raise Invalid("You cannot add a dataset to this organization")
    return org.id


def private_needs_organization(value: t.Any, state: State) -> t.Any:
    current = state.extra.get("package")
    owner = state.clean.get("owner_org", current.owner_org if current is not None else None)
    if value is True and not owner:
        raise Invalid("Datasets with no organization can't be private.")
    return value


def tags_validator(value: t.Any, state: State) -> t.Any:
    """``tags`` as a list of ``{name}`` dicts (plain strings are accepted too);
    the result is a list of names and the errors a flat list of messages."""
    if value is missing or value is None:
        return value
    if not isinstance(value, list | tuple):
        raise Invalid(['Must be a list of tags such as [{"name": "economy"}]'])
    names: list[str] = []
    errors: list[str] = []
    for item in value:
        name = item.get("name", missing) if isinstance(item, dict) else item
        if name is missing or name is None or name == "":
            errors.append("Missing value")
            continue
        if isinstance(name, str):
            name = name.strip()
        problems = tag_name_errors(name)
        if problems:
            errors.extend(problems)
        elif name not in names:
            names.append(name)
    if errors:
        raise Invalid(errors)
    return names


def tag_string_validator(value: t.Any, state: State) -> t.Any:
    """``tag_string`` ("a, b") merged into ``tags``."""
    if value is missing or value is None:
        return value
    if not isinstance(value, str):
        raise Invalid("Must be a string")
    names = [part.strip() for part in value.split(",") if part.strip()]
    errors = [msg for name in names for msg in tag_name_errors(name)]
    if errors:
        raise Invalid(errors)
    tags = state.clean.setdefault("tags", [])
    for name in names:
        if name not in tags:
            tags.append(name)
    return missing


PACKAGE_TEXT_FIELDS = (
    "notes",
    "url",
    "version",
    "author",
    "author_email",
    "maintainer",
    "maintainer_email",
    "license_id",
)
"""The free-text dataset columns (saved as given by ``model_save``)."""

PACKAGE_FIELDS = (
    "id",
    "name",
    "title",
    "type",
    "state",
    "private",
    "owner_org",
    "creator_user_id",
    "metadata_created",
    "metadata_modified",
    *PACKAGE_TEXT_FIELDS,
)


def extra_value(value: t.Any, state: State) -> t.Any:
    if value is None:
        return value
    if isinstance(value, str):
        return unicode_safe(value, state)
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise Invalid("Must be a string")


def extras_validator(value: t.Any, state: State) -> t.Any:
    """``extras`` as ``[{key, value}]``; duplicate keys and keys that are
    dataset fields are reported under ``extras_validation``."""
    if value is missing or value is None:
        return value
    value = list_of_dicts(value, state)
    schema: Schema = {
        "key": [
            not_empty,
            unicode_safe,
            strip,
            max_length(200, "Extra keys must be at most 200 characters long"),
        ],
        "value": [not_missing, extra_value],
        "deleted": [ignore_missing, boolean_validator],
    }
    out, errors, bad = [], [], False
    for item in value:
        clean, item_errors = validate(item, schema, state.context)
        errors.append(item_errors)
        bad = bad or bool(item_errors)
        if not item_errors and not clean.get("deleted"):
            out.append({"key": clean["key"], "value": clean["value"]})
    if bad:
        raise Invalid(errors)
    keys = [item["key"] for item in out]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        state.extra.setdefault("late_errors", {})["extras_validation"] = [
            f'Duplicate key "{duplicates[0]}"'
        ]
    clashes = [k for k in keys if k in PACKAGE_FIELDS]
    if clashes:
        state.extra.setdefault("late_errors", {})["extras_validation"] = [
            "There is a schema field with the same name"
        ]
    return out


def groups_validator(value: t.Any, state: State) -> t.Any:
    """``groups`` as ``[{id}]`` or ``[{name}]``; the result is a list of refs."""
    if value is missing or value is None:
        return value
    value = list_of_dicts(value, state)
    refs = []
    for item in value:
        ref = item.get("id") or item.get("name")
        if ref is None or ref == "":
            continue
        if not isinstance(ref, str) or "\x00" in ref:
            raise Invalid([{"id": ["Must be a string"]}])
        refs.append(ref)
    return refs


def resources_validator(value: t.Any, state: State) -> t.Any:
    if value is missing or value is None:
        return value
    if not isinstance(value, list | tuple):
        raise Invalid(["Must be a list of resources"])
    out, errors, bad = [], [], False
    for item in value:
        if not isinstance(item, dict):
            errors.append({"__type": ["Must be an object"]})
            bad = True
            continue
        clean, item_errors = validate_resource(item, state.context)
        out.append(clean)
        errors.append(item_errors)
        bad = bad or bool(item_errors)
    if bad:
        raise Invalid(errors)
    return out


STATES = ("active", "draft", "deleted")


def package_schema(*, create: bool) -> Schema:
    schema: dict[str, list[t.Any]] = {
        "name": [not_empty, name_validator, package_name_unique],
        "title": [if_empty_same_as("name"), unicode_safe],
        "owner_org": [owner_org_validator],
        "private": [ignore_missing, boolean_validator, private_needs_organization],
        "notes": [ignore_missing, unicode_safe],
        "url": [ignore_missing, unicode_safe, strip],
        "version": [
            ignore_missing,
            unicode_safe,
            max_length(100, "Version must be a maximum of 100 characters long"),
        ],
        "author": [ignore_missing, unicode_safe],
        "author_email": [ignore_missing, unicode_safe, strip, email_validator],
        "maintainer": [ignore_missing, unicode_safe],
        "maintainer_email": [ignore_missing, unicode_safe, strip, email_validator],
        "license_id": [ignore_missing, unicode_safe],
        "state": [ignore_missing, unicode_safe, one_of(STATES, "Invalid state")],
        "tags": [tags_validator],
        "tag_string": [tag_string_validator],
        "extras": [extras_validator],
        "groups": [groups_validator],
        "resources": [resources_validator],
    }
    if not create:
        schema["name"] = [ignore_missing, name_validator, package_name_unique]
        schema["title"] = [ignore_missing, unicode_safe]
    if create:
        schema = {
            "id": [empty_if_not_sysadmin, ignore_missing, uuid_validator, package_id_free],
            **schema,
            "type": [default("dataset"), unicode_safe, name_validator],
            "private": [default(False), boolean_validator, private_needs_organization],
            "state": [ignore_missing, unicode_safe, one_of(("active", "draft"), "Invalid state")],
        }
    return schema


def validate_package(
    data: dict[str, t.Any], context: dict[str, t.Any], *, package: model.Package | None = None
) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    late_errors: dict[str, t.Any] = {}  # errors of one field reported under another key
    clean, errors = validate(
        data,
        package_schema(create=package is None),
        context,
        package=package,
        late_errors=late_errors,
    )
    for key, messages in late_errors.items():
        errors.setdefault(key, messages)
    return clean, errors


# -- resources --------------------------------------------------------------------

FORMATS = {
    "csv": "CSV",
    "tsv": "TSV",
    "json": "JSON",
    "geojson": "GeoJSON",
    "xml": "XML",
    "xls": "XLS",
    "xlsx": "XLSX",
    "ods": "ODS",
    "pdf": "PDF",
    "zip": "ZIP",
    "txt": "TXT",
    "html": "HTML",
    "rdf": "RDF",
    "shp": "SHP",
    "kml": "KML",
    "parquet": "Parquet",
}


def clean_format(value: t.Any, state: State) -> t.Any:
    if isinstance(value, str):
        value = value.strip()
        return FORMATS.get(value.lower().lstrip("."), value)
    return value


RESOURCE_COLUMNS = (
    "url",
    "name",
    "description",
    "format",
    "mimetype",
    "size",
    "hash",
    "url_type",
    "last_modified",
)
RESOURCE_EXTRA_CORE = (
    "mimetype_inner",
    "resource_type",
    "cache_url",
    "cache_last_updated",
    "datastore_active",
)
"""Core resource fields without a column of their own: kept with the extras."""
RESOURCE_KEPT = ("datastore_active",)
"""Fields a resource keeps when an update leaves them out (what the datastore
says about the resource, not what its editor wrote)."""
RESOURCE_DERIVED = ("package_id", "created", "metadata_modified", "position", "state")
"""Fields a caller may send back (from resource_show) but that the portal sets."""
RESOURCE_DROPPED = ("upload", "clear_upload", "tracking_summary", "revision_id")


def _optional_text() -> list[t.Any]:
    return [ignore_missing, unicode_safe]


def resource_schema() -> Schema:
    return {
        "id": [ignore_missing, unicode_safe],
        "url": [default(""), unicode_safe, strip],
        "name": _optional_text(),
        "description": _optional_text(),
        "format": [ignore_missing, unicode_safe, clean_format],
        "mimetype": _optional_text(),
        "mimetype_inner": _optional_text(),
        "size": [ignore_missing, int_validator, _empty_to_none_value, _size_range],
        "hash": _optional_text(),
        "resource_type": _optional_text(),
        "url_type": [
            ignore_missing,
            unicode_safe,
            max_length(50, "url_type must be at most 50 characters long"),
        ],
        "cache_url": _optional_text(),
        "last_modified": [ignore_missing, isodate],
        "cache_last_updated": [ignore_missing, isodate],
        "datastore_active": [ignore_missing, boolean_validator],
        **{key: [ignore] for key in RESOURCE_DERIVED + RESOURCE_DROPPED},
    }


MAX_SIZE = 2**31 - 1  # the column is a 32-bit integer


def _size_range(value: t.Any, state: State) -> t.Any:
    if isinstance(value, int) and not 0 <= value <= MAX_SIZE:
        raise Invalid(f"Must be a natural number of at most {MAX_SIZE}")
    return value


def _empty_to_none_value(value: t.Any, state: State) -> t.Any:
    return None if value == "" else value


def validate_resource(
    data: dict[str, t.Any], context: dict[str, t.Any]
) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """Validate one resource; unknown keys are kept (as extras) when they hold JSON."""
    schema = resource_schema()
    clean, errors = validate(data, schema, context)
    extras: dict[str, t.Any] = {}
    for key, value in data.items():
        if key in schema or not isinstance(key, str):
            continue
        try:
            extras[key] = json_value(value, State(context=context, data=data))
        except Invalid as exc:
            errors[key] = [exc.error]
    clean["__extras"] = extras
    return clean, errors


# -- groups and organizations --------------------------------------------------------


def group_name_unique(value: t.Any, state: State) -> t.Any:
    """No other group or organization, deleted ones included, has this name."""
    if not isinstance(value, str):
        return value
    if _taken_by_another(state, model.Group, "group", model.Group.name == value):
        raise Invalid("Group name already exists in database")
    return value


group_users_validator = nested(
    {
        "name": [not_empty, unicode_safe],
        "capacity": [default("member"), unicode_safe, one_of(authz.ROLES)],
    }
)


def group_schema() -> Schema:
    return {
        "id": [empty_if_not_sysadmin, ignore_missing, uuid_validator],
        "name": [not_empty, name_validator, group_name_unique],
        "title": [ignore_missing, unicode_safe],
        "description": [ignore_missing, unicode_safe],
        "image_url": [ignore_missing, unicode_safe],
        "type": [ignore_missing, unicode_safe, name_validator],
        "state": [ignore_missing, unicode_safe, one_of(("active", "pending"), "Invalid state")],
        "approval_status": [
            ignore_missing,
            unicode_safe,
            one_of(("approved", "pending"), "Invalid approval status"),
        ],
        "users": [group_users_validator],
        "extras": [ignore_missing, list_of_dicts],
    }


# -- users ------------------------------------------------------------------------------


def user_name_unique(value: t.Any, state: State) -> t.Any:
    if not isinstance(value, str):
        return value
    if _taken_by_another(state, model.User, "user", model.User.name == value):
        raise Invalid("That login name is not available.")
    return value


def user_email_unique(value: t.Any, state: State) -> t.Any:
    if not isinstance(value, str) or not value:
        return value
    if _taken_by_another(
        state,
        model.User,
        "user",
        func.lower(model.User.email) == value.lower(),
        model.User.state != model.tables.DELETED,
    ):
        raise Invalid(email_taken(value))
    return value


def email_taken(value: str) -> str:
    """What ``user_email_unique`` says; also the answer to the loser of a race
    that the database's unique index on ``lower(email)`` decided."""
    return f"The email address '{value}' belongs to a registered user."


def user_conflict(exc: Exception, email: str | None) -> dict[str, list[str]]:
    """The validation errors for a uniqueness race lost on user ``name`` or
    ``email`` (the constraint the database named in ``exc``)."""
    if email and "email" in str(getattr(exc, "orig", exc)).lower():
        return {"email": [email_taken(email)]}
    return {"name": ["That login name is not available."]}


def user_create_schema() -> Schema:
    return {
        "name": [not_empty, name_validator, user_name_unique],
        "email": [not_empty, unicode_safe, strip, email_validator, user_email_unique],
        "password": [not_empty, password_validator],
        "fullname": [ignore_missing, unicode_safe],
        "about": [ignore_missing, unicode_safe],
        "image_url": [ignore_missing, unicode_safe],
        "sysadmin": [_drop_if_not_sysadmin, ignore_missing, boolean_validator],
        "state": [
            _drop_if_not_sysadmin,
            ignore_missing,
            unicode_safe,
            one_of(("active", "pending"), "Invalid state"),
        ],
        "with_apitoken": [default(False), boolean_validator],
    }


def user_update_schema() -> Schema:
    """Fields ``user_update`` may change; those left out keep their value."""
    return {
        "name": [ignore_missing, name_validator, user_name_unique],
        "email": [ignore_missing, unicode_safe, strip, email_validator, user_email_unique],
        "password": [ignore_missing, password_validator],
        "fullname": [ignore_missing, unicode_safe],
        "about": [ignore_missing, unicode_safe],
        "image_url": [ignore_missing, unicode_safe],
        "sysadmin": [_drop_if_not_sysadmin, ignore_missing, boolean_validator],
    }


# -- paging and lists ----------------------------------------------------------------------


def paging_schema() -> Schema:
    return {
        "limit": [ignore_empty, page_number],
        "offset": [ignore_empty, page_number],
    }


def name_or_id_query(entity: t.Any, value: str) -> t.Any:
    return select(entity).where(or_(entity.id == value, entity.name == value))
