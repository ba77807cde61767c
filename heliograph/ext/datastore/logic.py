"""The datastore actions and their auth functions (CKAN's names, parameters and results).

Auth follows the resource's dataset: ``datastore_create``, ``datastore_upsert``
and ``datastore_delete`` need ``resource_update`` on the resource (editors and
admins of its organization); ``datastore_search`` and ``datastore_info`` need
``resource_show`` (whoever can see the dataset, anonymous callers included).

``datastore_upsert`` sends ``ckanext.datastore_upsert(resource_id,
records=records)`` after its write is committed, ``datastore_delete`` sends
``ckanext.datastore_delete(resource_id, result=..., data_dict=...)``; a call
that fails sends nothing and leaves the table as it was.

A resource's ``datastore_active`` (false by default) turns true with
``datastore_create`` and false when ``datastore_delete`` drops the table
(through ``resource_patch``). Once a ``resource_delete`` or ``package_delete``
has committed (``action_committed``), the tables of the deleted resources are
dropped, without sending ``datastore_delete``, as in CKAN; and
``datastore_search``/``datastore_info`` answer "not found" for a resource that
is no longer active, whatever its table.
"""

from __future__ import annotations

import collections.abc as c
import json
import logging
import typing as t

import heliograph.plugins.toolkit as tk
from heliograph.ext.datastore import backend as be
from heliograph.ext.datastore import types as ty

Context = dict[str, t.Any]
DataDict = dict[str, t.Any]

log = logging.getLogger(__name__)

METHODS = ("upsert", "insert", "update")
ROWS_DEFAULT = 100
ROWS_MAX_KEY = "heliograph.datastore.search.rows_max"
ROWS_MAX_DEFAULT = 32000
SEARCH_KEYS = frozenset(
    {
        "resource_id",
        "id",
        "filters",
        "q",
        "plain",
        "language",
        "full_text",
        "distinct",
        "fields",
        "sort",
        "limit",
        "offset",
        "include_total",
        "total_estimation_threshold",
        "records_format",
    }
)


# -- parameter helpers -------------------------------------------------------------


def _resource_id(data_dict: DataDict) -> str:
    value = data_dict.get("resource_id")
    if value in (None, ""):
        value = data_dict.get("id")
    if value in (None, ""):
        raise tk.ValidationError({"resource_id": ["Missing value"]})
    if not isinstance(value, str):
        raise tk.ValidationError({"resource_id": [f'invalid value "{value}"']})
    return value


def _bool(data_dict: DataDict, key: str, default: bool) -> bool:
    value = data_dict.get(key, default)
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise tk.ValidationError({key: [f'invalid value "{value}": expected true or false']})


def _natural(data_dict: DataDict, key: str, default: int) -> int:
    value = data_dict.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise tk.ValidationError({key: ["Invalid integer"]})
    try:
        number = int(value.strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise tk.ValidationError({key: ["Invalid integer"]}) from None
    if isinstance(value, float) and not value.is_integer():
        raise tk.ValidationError({key: ["Invalid integer"]})
    if number < 0:
        raise tk.ValidationError({key: ["Must be a natural number"]})
    return number


def _names(value: t.Any, key: str) -> list[str]:
    """A list of field ids from a list or a comma-separated string."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise tk.ValidationError({key: [f'invalid value "{value}": expected a list of fields']})
    return list(value)


def _json_param(value: t.Any, key: str) -> t.Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise tk.ValidationError({key: [f'invalid value "{value}": not JSON']}) from None
    return value


def _check_bounds(key: str, value: t.Any) -> None:
    """A ``{field: text or [texts]}`` mapping (``filters``, a dict ``q``)
    within the portal's search bounds: its keys and each value."""
    if not isinstance(value, dict):
        return
    tk.check_search_text(key, list(value))
    for item in value.values():
        tk.check_search_text(key, item)


def _records(data_dict: DataDict) -> list[t.Any]:
    records = data_dict.get("records")
    if records is None:
        return []
    if not isinstance(records, list):
        raise tk.ValidationError({"records": ["records must be a list of objects"]})
    return records


def _check_writable(context: Context, resource_id: str, data_dict: DataDict) -> None:
    """CKAN's read-only rule: only ``url_type='datastore'`` resources, unless ``force``."""
    if _bool(data_dict, "force", False):
        return
    resource = tk.get_action("resource_show")({**context, "ignore_auth": True}, {"id": resource_id})
    if resource.get("url_type") != "datastore":
        raise tk.ValidationError(
            {
                "read-only": [
                    'Cannot edit read-only resource. Either pass "force=True" or change '
                    'url_type to "datastore"'
                ]
            }
        )


def _internal(context: Context) -> Context:
    return {"session": context.get("session"), "user": context.get("user"), "ignore_auth": True}


def _set_active(context: Context, resource_id: str, active: bool) -> None:
    """The resource's ``datastore_active`` becomes ``active`` (one change, only
    when it differs), in the action's transaction."""
    internal = _internal(context)
    resource = tk.get_action("resource_show")(dict(internal), {"id": resource_id})
    if bool(resource.get("datastore_active")) != active:
        tk.get_action("resource_patch")(internal, {"id": resource_id, "datastore_active": active})


def _require_active(context: Context, resource_id: str) -> None:
    """ObjectNotFound unless ``resource_id`` is an active resource: a deleted
    resource's rows are never served, even while its table is still there."""
    try:
        tk.get_action("resource_show")(_internal(context), {"id": resource_id})
    except tk.ObjectNotFound:
        raise tk.ObjectNotFound(f'Resource "{resource_id}" was not found.') from None


# -- tables of deleted resources ----------------------------------------------------


def _drop_tables(resource_ids: c.Iterable[t.Any]) -> None:
    backend = be.get_backend()
    for resource_id in resource_ids:
        if not isinstance(resource_id, str):
            continue
        try:
            backend.delete(resource_id, None)
        except tk.ObjectNotFound:
            continue  # the resource had no table
        log.info("dropped the datastore table of deleted resource %s", resource_id)


def _after_resource_delete(sender: str, **kwargs: t.Any) -> None:
    data_dict = kwargs.get("data_dict") or {}
    _drop_tables([data_dict.get("id")])


def _after_package_delete(sender: str, **kwargs: t.Any) -> None:
    data_dict = kwargs.get("data_dict") or {}
    context = kwargs.get("context") or {}
    try:
        package = tk.get_action("package_show")(_internal(context), {"id": data_dict.get("id")})
    except tk.ObjectNotFound:
        return
    _drop_tables(resource["id"] for resource in package.get("resources") or [])


SUBSCRIPTIONS: dict[str, c.Callable[..., None]] = {
    "resource_delete": _after_resource_delete,
    "package_delete": _after_package_delete,
}
"""``action_committed`` receivers by sender: drop the tables of what was deleted."""


# -- datastore_create ----------------------------------------------------------------


def _fields(data_dict: DataDict, records: list[t.Any]) -> list[dict[str, t.Any]]:
    given = data_dict.get("fields")
    if given is None:
        given = []
    if not isinstance(given, list) or not all(isinstance(f, dict) for f in given):
        raise tk.ValidationError({"fields": ["fields must be a list of objects with an id"]})
    first = records[0] if records and isinstance(records[0], dict) else {}
    fields = [dict(f) for f in given]
    ids = [f.get("id") for f in fields]
    for key in first:  # CKAN adds the first record's other keys, types guessed
        if key not in ids:
            fields.append({"id": key})
            ids.append(key)
    for f in fields:
        if not ty.valid_field_id(f.get("id")):
            raise tk.ValidationError(
                {
                    "fields": [
                        f'"{f.get("id")}" is not a valid field name: use letters, digits, '
                        "spaces, '_', '.' and '-' (not first), at most 63 characters"
                    ]
                }
            )
    if len(set(ids)) != len(ids):
        raise tk.ValidationError({"field": ["Duplicate column names are not supported"]})
    return fields


def _typed(fields: list[dict[str, t.Any]], first: dict[str, t.Any], known: dict[str, str]) -> None:
    for f in fields:
        if f.get("type") in (None, ""):
            guessed = known.get(f["id"]) or ty.guess_type(first.get(f["id"]))
            if guessed is None:
                raise tk.ValidationError({"fields": [f'"{f["id"]}" type not guessable']})
            f["type"] = guessed
        else:
            normalized = ty.normalize_type(f["type"])
            if normalized is None:
                raise tk.ValidationError(
                    {
                        "fields": [
                            f'"{f["type"]}" is not a valid field type (use one of '
                            f"{', '.join(ty.TYPES)})"
                        ]
                    }
                )
            f["type"] = normalized
        extra = set(f) - {"id", "type", "info"}
        if extra:
            raise tk.ValidationError(
                {"fields": [f'field "{f["id"]}": unknown keys "{", ".join(sorted(extra))}"']}
            )


def datastore_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Create the table of ``resource_id`` (or of a new resource from ``resource``),
    or add fields to it; set ``primary_key``, add ``indexes``, insert ``records``."""
    resource = data_dict.get("resource")
    if resource is not None:
        if data_dict.get("resource_id"):
            raise tk.ValidationError({"resource": ["resource cannot be used with resource_id"]})
        if not isinstance(resource, dict):
            raise tk.ValidationError({"resource": ["resource must be an object"]})
        created = tk.get_action("resource_create")(
            dict(context),
            {
                **resource,
                "url": resource.get("url") or "_datastore_only_resource",
                "url_type": "datastore",
            },
        )
        resource_id = created["id"]
    else:
        if not data_dict.get("resource_id"):
            raise tk.ValidationError({"resource_id": ["resource_id or resource required"]})
        resource_id = _resource_id(data_dict)
    tk.check_access("datastore_create", context, {**data_dict, "resource_id": resource_id})
    backend = be.get_backend()
    if resource is None:
        _check_writable(context, resource_id, data_dict)
    records = _records(data_dict)
    fields = _fields(data_dict, records)
    primary_key = data_dict.get("primary_key")
    pk = None if primary_key is None else _names(primary_key, "primary_key")
    indexes_raw = data_dict.get("indexes")
    indexes: list[list[str]] = []
    if indexes_raw is not None:
        if isinstance(indexes_raw, str):
            indexes = [[name] for name in _names(indexes_raw, "indexes")]
        elif isinstance(indexes_raw, list):
            indexes = [
                _names(ix, "indexes") if isinstance(ix, list) else [ix] for ix in indexes_raw
            ]
            if not all(isinstance(col, str) for ix in indexes for col in ix):
                raise tk.ValidationError({"indexes": [f'invalid value "{indexes_raw}"']})
        else:
            raise tk.ValidationError({"indexes": [f'invalid value "{indexes_raw}"']})
    with backend.connect(read_only=True) as conn:
        existing = backend.table(conn, resource_id) if ty.valid_resource_id(resource_id) else None
    first = records[0] if records and isinstance(records[0], dict) else {}
    _typed(fields, first, existing.types if existing else {})
    table = backend.create(resource_id, fields, pk, indexes, records)
    _set_active(context, resource_id, True)
    result = {k: v for k, v in data_dict.items() if k not in ("records", "resource")}
    result.update(
        {
            "resource_id": resource_id,
            "fields": [dict(f) for f in table.fields],
            "primary_key": list(table.primary_key),
            "method": "insert",
        }
    )
    return result


# -- datastore_upsert --------------------------------------------------------------


def datastore_upsert(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Write ``records``: ``method`` ``upsert`` (by primary key or ``_id``; the
    default), ``insert`` or ``update``. ``dry_run`` checks and rolls back."""
    resource_id = _resource_id(data_dict)
    method = data_dict.get("method") or "upsert"
    if method not in METHODS:
        raise tk.ValidationError(
            {"method": [f'"{method}" is not a valid method (use upsert, insert or update)']}
        )
    records = _records(data_dict)
    dry_run = _bool(data_dict, "dry_run", False)
    tk.check_access("datastore_upsert", context, {**data_dict, "resource_id": resource_id})
    _check_writable(context, resource_id, data_dict)
    be.get_backend().write(resource_id, records, method, dry_run=dry_run)
    tk.signals.datastore_upsert.send(resource_id, records=data_dict.get("records"))
    return {**data_dict, "resource_id": resource_id, "method": method}


# -- datastore_delete --------------------------------------------------------------


def datastore_delete(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Drop the table (no ``filters``) or delete the rows matching ``filters``
    (``{}`` deletes every row and keeps the table)."""
    resource_id = _resource_id(data_dict)
    filters = _json_param(data_dict.get("filters"), "filters")
    if filters is not None and not isinstance(filters, dict):
        raise tk.ValidationError({"filters": ["filters must be either a dict or null."]})
    tk.check_access("datastore_delete", context, {**data_dict, "resource_id": resource_id})
    _check_writable(context, resource_id, data_dict)
    be.get_backend().delete(resource_id, filters)
    if filters is None:
        _set_active(context, resource_id, False)
    result: dict[str, t.Any] = {"resource_id": resource_id}
    if filters is not None:
        result["filters"] = filters
    tk.signals.datastore_delete.send(resource_id, result=result, data_dict=result)
    return result


# -- datastore_search and datastore_info -------------------------------------------


@tk.side_effect_free
def datastore_search(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Rows of the table: ``filters`` (``{field: value or [values]}``), ``q``
    (full text, or ``{field: text}`` for a plain per-field match), ``fields``,
    ``sort`` (``"a, b desc"``), ``limit`` (default 100, at most 32000), ``offset``,
    ``include_total``, ``total_estimation_threshold`` (on PostgreSQL, a total
    estimated at or over it is given as the estimate, ``total_was_estimated``
    true), ``distinct``, ``records_format`` (``objects`` or ``lists``)."""
    extras = sorted(str(k) for k in data_dict if k not in SEARCH_KEYS)
    if extras:
        raise tk.ValidationError({"__extras": [f'invalid value "{k}"' for k in extras]})
    resource_id = _resource_id(data_dict)
    filters = _json_param(data_dict.get("filters"), "filters")
    if filters is not None and not isinstance(filters, dict):
        raise tk.ValidationError({"filters": ["filters must be either a dict or null."]})
    q = data_dict.get("q")
    tk.check_search_text("q", q)
    if isinstance(q, str) and q.strip().startswith("{"):
        q = _json_param(q, "q")
    if q is not None and not isinstance(q, (str, dict)):
        raise tk.ValidationError({"q": [f'invalid value "{q}": expected text or an object']})
    _check_bounds("q", q)
    _check_bounds("filters", filters)
    tk.check_search_text("fields", data_dict.get("fields"))
    fields = (
        None if data_dict.get("fields") in (None, "") else _names(data_dict["fields"], "fields")
    )
    tk.check_search_text("fields", fields)
    sort_value = data_dict.get("sort")
    tk.check_search_text("sort", sort_value)
    sort = None if sort_value in (None, "") else _names(sort_value, "sort")
    tk.check_search_text("sort", sort)
    rows_max = tk.config.get(ROWS_MAX_KEY) or ROWS_MAX_DEFAULT
    limit = min(_natural(data_dict, "limit", ROWS_DEFAULT), int(rows_max))
    offset = _natural(data_dict, "offset", 0)
    include_total = _bool(data_dict, "include_total", True)
    threshold = (
        None
        if data_dict.get("total_estimation_threshold") in (None, "")
        else _natural(data_dict, "total_estimation_threshold", 0)
    )
    distinct = _bool(data_dict, "distinct", False)
    records_format = data_dict.get("records_format") or "objects"
    if records_format not in ("objects", "lists"):
        raise tk.ValidationError(
            {"records_format": [f'invalid value "{records_format}" (use objects or lists)']}
        )
    tk.check_access("datastore_search", context, {**data_dict, "resource_id": resource_id})
    _require_active(context, resource_id)
    found = be.get_backend().search(
        resource_id,
        filters=filters,
        q=q,
        fields=fields,
        sort=sort,
        limit=limit,
        offset=offset,
        include_total=include_total,
        total_estimation_threshold=threshold,
        distinct=distinct,
        records_format=records_format,
    )
    return {**data_dict, "resource_id": resource_id, "limit": limit, **found}


@tk.side_effect_free
def datastore_info(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """The table's fields (with their database schema) and ``meta`` (row count...)."""
    resource_id = _resource_id(data_dict)
    tk.check_access("datastore_info", context, {**data_dict, "resource_id": resource_id})
    _require_active(context, resource_id)
    return be.get_backend().info(resource_id)


ACTIONS: dict[str, c.Callable[[Context, DataDict], t.Any]] = {
    "datastore_create": datastore_create,
    "datastore_upsert": datastore_upsert,
    "datastore_delete": datastore_delete,
    "datastore_search": datastore_search,
    "datastore_info": datastore_info,
}


# -- auth --------------------------------------------------------------------------


def _following(core_action: str) -> c.Callable[[Context, DataDict], dict[str, t.Any]]:
    def auth(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
        resource_id = data_dict.get("resource_id") or data_dict.get("id")
        try:
            tk.check_access(core_action, context, {"id": resource_id})
        except tk.NotAuthorized as exc:
            return {"success": False, "msg": str(exc)}
        return {"success": True}

    auth.__doc__ = f"As ``{core_action}`` on the resource."
    return auth


AUTH_FUNCTIONS: dict[str, c.Callable[[Context, DataDict], dict[str, t.Any]]] = {
    "datastore_create": _following("resource_update"),
    "datastore_upsert": _following("resource_update"),
    "datastore_delete": _following("resource_update"),
    "datastore_search": tk.auth_allow_anonymous_access(_following("resource_show")),
    "datastore_info": tk.auth_allow_anonymous_access(_following("resource_show")),
}
