"""The dataset search shared by ``/dataset/`` and the organization and group
pages: facets, filters, sort and numbered pages in CKAN's URL parameters.

A page's query string holds ``q``, ``sort``, ``page`` and one parameter per
chosen facet value (``organization``, ``groups``, ``tags``, ``res_format``,
``license_id``; repeatable, all combined with AND), as CKAN's search pages
do: ``/dataset/?tags=roads&organization=x``. :func:`search` runs
``package_search`` with them and returns what the ``_search.html`` macros
show, every link built from the current page's URL.
"""

from __future__ import annotations

import collections.abc as c
import typing as t
from urllib.parse import urlencode

import flask
from werkzeug.datastructures import MultiDict

from heliograph.web.views import call_action, int_arg

ROWS = 20

FACETS: tuple[tuple[str, str], ...] = (
    ("organization", "Organizations"),
    ("groups", "Groups"),
    ("tags", "Tags"),
    ("res_format", "Formats"),
    ("license_id", "Licences"),
)
FACET_NAMES = frozenset(name for name, _title in FACETS)

SORTS: tuple[tuple[str, str], ...] = (
    ("score desc, metadata_modified desc", "Relevance"),
    ("title_string asc", "Name ascending"),
    ("title_string desc", "Name descending"),
    ("metadata_modified desc", "Last modified"),
)
SORT_VALUES = frozenset(value for value, _label in SORTS)
FACET_LIMIT = 10
MAX_FILTER_LENGTH = 200


def quoted(value: str) -> str:
    """``value`` as one double-quoted term of a ``q``/``fq`` string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _chosen() -> list[tuple[str, str]]:
    """The facet values in the query string, in order, without repeats."""
    chosen: list[tuple[str, str]] = []
    for key, value in flask.request.args.items(multi=True):
        value = value.strip()
        wanted = key in FACET_NAMES and value and len(value) <= MAX_FILTER_LENGTH
        if wanted and (key, value) not in chosen:
            chosen.append((key, value))
    return chosen


def page_url(**changes: t.Any) -> str:
    """The current page's URL with query parameters changed (None or [] removes
    one); any change but the page's own goes back to page 1."""
    args: MultiDict[str, str] = MultiDict(flask.request.args)
    if "page" not in changes:
        args.poplist("page")
    for key, value in changes.items():
        args.poplist(key)
        if value is not None:
            for item in value if isinstance(value, list) else [value]:
                args.add(key, str(item))
    endpoint = flask.request.endpoint or "dataset.search"
    url = flask.url_for(endpoint, **(flask.request.view_args or {}))
    query = [(key, value) for key, value in args.items(multi=True) if value != ""]
    return f"{url}?{urlencode(query)}" if query else url


def _without(chosen: list[tuple[str, str]], field: str, value: str) -> str:
    remaining = [v for f, v in chosen if f == field and v != value]
    return page_url(**{field: remaining})


def _with(chosen: list[tuple[str, str]], field: str, value: str) -> str:
    values = [v for f, v in chosen if f == field]
    return page_url(**{field: [*values, value]})


def pages(page: int, last: int) -> list[int | None]:
    """Page numbers to show: the first, the last and two either side of
    ``page``; None where numbers are left out."""
    shown = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    result: list[int | None] = []
    previous = 0
    for number in shown:
        if previous and number - previous > 1:
            result.append(None)
        result.append(number)
        previous = number
    return result


def search(
    fq: c.Sequence[str] = (), hidden: c.Collection[str] = (), rows: int = ROWS
) -> dict[str, t.Any]:
    """Run the search the query string asks for, within ``fq`` (clauses the
    page itself sets, e.g. its organization), leaving out the facets named
    in ``hidden``. Returns the template's variables."""
    q = flask.request.args.get("q", "").strip()
    sort = flask.request.args.get("sort", "")
    if sort not in SORT_VALUES:
        sort = SORTS[0][0]
    page = int_arg("page", 1)
    chosen = _chosen()
    fields = [name for name, _title in FACETS if name not in hidden]
    found = call_action(
        "package_search",
        {
            "q": q,
            "fq_list": [*fq, *(f"{field}:{quoted(value)}" for field, value in chosen)],
            "rows": rows,
            "start": (page - 1) * rows,
            "sort": sort,
            "facet.field": fields,
            "facet.limit": FACET_LIMIT,
            "include_private": True,  # those the caller may see; the action filters
        },
    )
    count = int(found.get("count", 0))
    displays: dict[tuple[str, str], str] = {}
    facets = []
    for field, title in FACETS:
        if field not in fields:
            continue
        items = []
        for item in (found.get("search_facets") or {}).get(field, {}).get("items", []):
            name = str(item["name"])
            active = (field, name) in chosen
            displays[(field, name)] = str(item.get("display_name") or name)
            items.append(
                {
                    "name": name,
                    "display_name": displays[(field, name)],
                    "count": item["count"],
                    "active": active,
                    "url": _without(chosen, field, name) if active else _with(chosen, field, name),
                }
            )
        facets.append({"field": field, "title": title, "items": items})
    titles = dict(FACETS)
    filters = [
        {
            "field": field,
            "title": titles[field],
            "value": value,
            "display_name": displays.get((field, value), value),
            "url": _without(chosen, field, value),
        }
        for field, value in chosen
    ]
    last = max(1, -(-count // rows))
    return {
        "q": q,
        "sort": sort,
        "sorts": SORTS,
        "page": page,
        "rows": rows,
        "count": count,
        "results": found.get("results", []),
        "facets": facets,
        "filters": filters,
        "pages": pages(page, last) if count > rows else [],
        "last_page": last,
        "page_url": page_url,
        "chosen": chosen,
        "clear_url": page_url(**{field: None for field in FACET_NAMES}),
    }
