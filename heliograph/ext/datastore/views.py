"""The datastore's pages: the data explorer on a resource page, and the dump.

- A resource in the datastore (``datastore_active``) shows a data explorer
  below its details (the plugin's ``resource/read.html`` fills the portal's
  ``explorer`` block through the ``datastore_explorer`` template global): its
  rows a page at a time with the column types, sorted by a column (``sort``,
  ``order``), filtered by column values (``filter_field``/``filter_value``
  pairs), searched in full text (``q``), every query a ``datastore_search`` run
  as the caller, and a "Data API" box with the same call. On a large table the
  total is the planner's estimate (``total_estimation_threshold``) rather than
  a count of every row; the next page is known by asking one row more. A bad
  sort, filter or query is a message in the explorer, never an error page.
- ``/datastore/dump/<resource_id>?format=csv|json`` (CKAN's address): the whole
  table, streamed in batches (never all in memory), for whoever may read the
  resource; a resource without a table is the 404 page.
"""

from __future__ import annotations

import collections.abc as c
import csv
import io
import json
import typing as t
import urllib.parse

import flask
from flask import Blueprint

import heliograph.plugins.toolkit as tk
from heliograph.ext.datastore import backend as be

datastore = Blueprint("datastore", __name__)

ROWS = 50
ESTIMATE_OVER = 100_000
"""Totals at or over this many rows are the planner's estimate, not a count."""
DUMP_FORMATS = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


# -- the explorer -------------------------------------------------------------------


def _page() -> int:
    try:
        return max(int(flask.request.args.get("page", 1)), 1)
    except ValueError:
        return 1


def _filters() -> list[tuple[str, str]]:
    args = flask.request.args
    pairs = zip(args.getlist("filter_field"), args.getlist("filter_value"), strict=False)
    return [(field, value) for field, value in pairs if field]


def _query(**changes: t.Any) -> str:
    """The current explorer query string with ``changes`` (None drops a key)."""
    args = flask.request.args
    params: dict[str, t.Any] = {
        "q": args.get("q", ""),
        "sort": args.get("sort", ""),
        "order": args.get("order", ""),
        "page": str(_page()),
        "filters": _filters(),
    }
    params.update(changes)
    items: list[tuple[str, str]] = []
    for key in ("q", "sort", "order", "page"):
        value = params.get(key)
        if value not in (None, "") and not (key == "page" and str(value) == "1"):
            items.append((key, str(value)))
    for field, value in params.get("filters") or []:
        items += [("filter_field", field), ("filter_value", value)]
    return "?" + urllib.parse.urlencode(items) + "#explorer" if items else "?#explorer"


def _search_dict(resource_id: str) -> dict[str, t.Any]:
    """The ``datastore_search`` call the explorer's query asks for."""
    args = flask.request.args
    data: dict[str, t.Any] = {"resource_id": resource_id}
    filters: dict[str, list[str]] = {}
    for field, value in _filters():
        filters.setdefault(field, []).append(value)
    if filters:
        data["filters"] = {k: v[0] if len(v) == 1 else v for k, v in filters.items()}
    q = args.get("q", "").strip()
    if q:
        data["q"] = q
    sort = args.get("sort", "").strip()
    if sort:
        order = "desc" if args.get("order") == "desc" else "asc"
        data["sort"] = f'"{sort}" {order}'
    return data


def _api_call(data: dict[str, t.Any]) -> dict[str, str]:
    """The Data API box: the call as a URL, and as a POST body for curl."""
    site = str(tk.config.get("heliograph.site_url") or flask.request.host_url).rstrip("/")
    endpoint = f"{site}/api/3/action/datastore_search"
    params = {"resource_id": data["resource_id"], "limit": "5"}
    for key in ("q", "sort"):
        if key in data:
            params[key] = data[key]
    if "filters" in data:
        params["filters"] = json.dumps(data["filters"], ensure_ascii=False)
    body = json.dumps({**data, "limit": 5}, ensure_ascii=False)
    return {
        "endpoint": endpoint,
        "url": endpoint + "?" + urllib.parse.urlencode(params),
        "body": body,
        "curl": f"curl -H 'Content-Type: application/json' -d '{body}' {endpoint}",
    }


def datastore_explorer(res: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """What the explorer shows for resource ``res`` and the current request's
    query; None when the resource is not in the datastore (or the caller may
    not read it)."""
    if not res.get("datastore_active"):
        return None
    page = _page()
    data = _search_dict(res["id"])
    shown = {
        "q": flask.request.args.get("q", ""),
        "sort": flask.request.args.get("sort", ""),
        "order": "desc" if flask.request.args.get("order") == "desc" else "asc",
        "filters": _filters(),
        "page": page,
        "rows": ROWS,
        "api": _api_call(data),
        "query": _query,
        "dump_csv": flask.url_for("datastore.dump", resource_id=res["id"], format="csv"),
        "dump_json": flask.url_for("datastore.dump", resource_id=res["id"], format="json"),
        "error": None,
        "fields": [],
        "records": [],
        "total": None,
        "estimated": False,
        "has_next": False,
    }
    try:
        found = tk.get_action("datastore_search")(
            tk.action_context(),
            {
                **data,
                "limit": ROWS + 1,
                "offset": (page - 1) * ROWS,
                "include_total": True,
                "total_estimation_threshold": ESTIMATE_OVER,
            },
        )
    except tk.ValidationError as exc:
        shown["error"] = _explain(exc)
        try:  # the columns, so that the form can be corrected
            bare = tk.get_action("datastore_search")(
                tk.action_context(),
                {"resource_id": res["id"], "limit": 0, "include_total": False},
            )
            shown["fields"] = bare["fields"]
        except (tk.ValidationError, tk.ObjectNotFound, tk.NotAuthorized):
            pass
        return shown
    except (tk.ObjectNotFound, tk.NotAuthorized):
        return None
    records = found["records"]
    shown.update(
        fields=found["fields"],
        records=records[:ROWS],
        has_next=len(records) > ROWS,
        total=found.get("total"),
        estimated=bool(found.get("total_was_estimated")),
    )
    return shown


def _explain(exc: t.Any) -> str:
    """A ValidationError of ``datastore_search`` in words for the explorer."""
    parts = []
    names = {"sort": "Sort", "filters": "Filter", "q": "Search"}
    for key, value in (exc.error_dict or {}).items():
        messages = value if isinstance(value, list) else [value]
        label = names.get(key, key)
        parts.append(f"{label}: {'; '.join(str(m) for m in messages)}")
    return ". ".join(parts) or exc.summary()


@datastore.app_context_processor
def _globals() -> dict[str, t.Any]:
    return {"datastore_explorer": datastore_explorer}


# -- the dump -----------------------------------------------------------------------


def _csv_lines(rows: c.Iterator[list[t.Any]]) -> c.Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for n, row in enumerate(rows, 1):
        writer.writerow(
            [
                json.dumps(v) if isinstance(v, (dict, list)) else ("" if v is None else v)
                for v in row
            ]
        )
        if n % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_chunks(rows: c.Iterator[list[t.Any]], fields: list[dict[str, t.Any]]) -> c.Iterator[str]:
    next(rows)  # the header: the fields say it
    yield '{"fields": ' + json.dumps(fields) + ', "records": ['
    chunk: list[str] = []
    first = True
    for row in rows:
        chunk.append(("" if first else ",") + json.dumps(row, default=str))
        first = False
        if len(chunk) >= 1000:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk) + "]}"


@datastore.route("/datastore/dump/<resource_id>")
def dump(resource_id: str) -> flask.Response:
    fmt = flask.request.args.get("format", "csv").lower()
    if fmt not in DUMP_FORMATS:
        flask.abort(400, f"format must be one of: {', '.join(DUMP_FORMATS)} (not {fmt!r})")
    # checks who may read it and that it is an active resource with a table
    found = tk.call_action(
        "datastore_search", {"resource_id": resource_id, "limit": 0, "include_total": False}
    )
    fields = [f for f in found["fields"] if f["id"] != "_id"]
    rows = be.get_backend().dump(resource_id)
    body = _csv_lines(rows) if fmt == "csv" else _json_chunks(rows, fields)
    response = flask.Response(body, mimetype=DUMP_FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{resource_id}.{fmt}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
