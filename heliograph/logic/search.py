"""Dataset search in the database: ``package_search``'s parameters checked,
turned into SQL (Solr-like ``q``/``fq`` clauses, sorting, permission labels)
and run, with facet counts.

:func:`parse` validates the parameters, :func:`conditions` builds the WHERE
clauses, :func:`run` counts, pages, dictizes and facets.
"""

from __future__ import annotations

import shlex
import typing as t

import sqlalchemy as sa
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from heliograph import model
from heliograph.config import config
from heliograph.logic import Context, DataDict, SearchQueryError, ValidationError, cache
from heliograph.logic.dictization import package_groups
from heliograph.logic.validation import (
    MAX_PAGE,
    MAX_TERMS_KEY,
    boolean_validator,
    count_terms,
    default,
    ignore_missing,
    int_validator,
    page_number,
    search_text,
    search_text_list,
    validate_or_raise,
)

__all__ = ["conditions", "contains", "label_filter", "parse", "run"]

SEARCH_KEYS = frozenset(
    {
        "q",
        "fq",
        "fq_list",
        "rows",
        "start",
        "sort",
        "facet",
        "facet.field",
        "facet.limit",
        "facet.mincount",
        "fl",
        "include_private",
        "include_drafts",
        "include_deleted",
        "use_default_schema",
        "defType",
        "qf",
        "wt",
        "hl",
        "df",
        "q.op",
        "callback",
    }
)
SORT_COLUMNS: dict[str, t.Any] = {
    "name": model.Package.name,
    "title": func.lower(func.coalesce(model.Package.title, model.Package.name)),
    "title_string": func.lower(func.coalesce(model.Package.title, model.Package.name)),
    "metadata_modified": model.Package.metadata_modified,
    "metadata_created": model.Package.metadata_created,
    "id": model.Package.id,
}
DEFAULT_SORT = "score desc, metadata_modified desc"
FACET_FIELDS = ("organization", "groups", "tags", "res_format", "license_id")


def contains(column: t.Any, term: str) -> t.Any:
    return func.lower(column).contains(term.lower(), autoescape=True)


def _has_tag(name: str) -> t.Any:
    return exists().where(
        model.PackageTag.package_id == model.Package.id,
        model.PackageTag.tag_id == model.Tag.id,
        model.Tag.name == name,
    )


def _text_term(term: str) -> t.Any:
    """A word of ``q``: in the name, title or notes, or part of a tag name."""
    tag_match = exists().where(
        model.PackageTag.package_id == model.Package.id,
        model.PackageTag.tag_id == model.Tag.id,
        contains(model.Tag.name, term),
    )
    return or_(
        contains(model.Package.name, term),
        contains(model.Package.title, term),
        contains(model.Package.notes, term),
        tag_match,
    )


def _in_group(ref: str, organization: bool) -> t.Any:
    if organization:
        return exists().where(
            model.Group.id == model.Package.owner_org,
            or_(model.Group.name == ref, model.Group.id == ref),
        )
    return exists().where(
        model.Member.table_name == "package",
        model.Member.table_id == model.Package.id,
        model.Member.state == model.tables.ACTIVE,
        model.Member.group_id == model.Group.id,
        or_(model.Group.name == ref, model.Group.id == ref),
    )


def _field_clause(field: str, value: str, param: str) -> t.Any:
    """The SQL condition of one ``field:value`` clause of ``q`` or ``fq``."""
    if value in ("*", "[* TO *]"):
        return sa.true()
    if field in ("organization", "owner_org"):
        return _in_group(value, organization=True)
    if field == "groups":
        return _in_group(value, organization=False)
    if field == "tags":
        return _has_tag(value)
    if field == "res_format":
        return exists().where(
            model.Resource.package_id == model.Package.id,
            model.Resource.state == model.tables.ACTIVE,
            func.lower(model.Resource.format) == value.lower(),
        )
    if field in ("dataset_type", "type"):
        return model.Package.type == value
    if field == "capacity":
        return model.Package.private.is_(value == "private")
    if field in ("name", "id", "license_id", "creator_user_id", "state"):
        return getattr(model.Package, field) == value
    if field in ("title", "notes", "text"):
        return (
            _text_term(value) if field == "text" else contains(getattr(model.Package, field), value)
        )
    raise ValidationError({param: [f'Cannot search on field "{field}"']})


def _clauses(text: str, param: str) -> list[t.Any]:
    """``text`` (Solr-like: words, ``field:value``, ``+``/``-`` prefixes,
    double quotes) as a list of SQL conditions, all of which must hold."""
    try:
        tokens = shlex.split(text)
    except ValueError:
        raise ValidationError({param: ["Search query is malformed (unbalanced quotes)"]}) from None
    conditions = []
    for token in tokens:
        if token in ("AND", "&&", "*:*", "*"):
            continue
        negate = token.startswith("-")
        token = token.lstrip("+-")
        if not token:
            continue
        field, sep, value = token.partition(":")
        if sep and field and value and " " not in field:
            clause = _field_clause(field, value.strip('"'), param)
        else:
            clause = _text_term(token)
        conditions.append(sa.not_(clause) if negate else clause)
    return conditions


def _parse_sort(value: str) -> list[t.Any]:
    order = []
    for part in value.split(","):
        words = part.split()
        if not words:
            continue
        field = words[0]
        direction = words[1].lower() if len(words) > 1 else "asc"
        if direction not in ("asc", "desc") or len(words) > 2:
            raise ValidationError({"sort": [f'Invalid sort "{part.strip()}"']})
        if field == "score":
            continue
        column = SORT_COLUMNS.get(field)
        if column is None:
            raise ValidationError({"sort": [f'Cannot sort by field "{field}"']})
        order.append(column.desc() if direction == "desc" else column.asc())
    order.append(model.Package.name.asc())
    return order


def _clamp(value: t.Any, state: t.Any) -> t.Any:
    return max(-MAX_PAGE, min(value, MAX_PAGE)) if isinstance(value, int) else value


def _search_schema() -> dict[str, list[t.Any]]:
    return {
        "q": [default(""), search_text],
        "fq": [default(""), search_text],
        "fq_list": [ignore_missing, search_text_list],
        "rows": [default(10), page_number],
        "start": [default(0), page_number],
        "sort": [default(DEFAULT_SORT), search_text],
        "facet": [default(True), boolean_validator],
        "facet.field": [ignore_missing, search_text_list],
        "facet.limit": [default(50), int_validator, _clamp],
        "facet.mincount": [default(1), int_validator, _clamp],
        "fl": [ignore_missing, search_text],
        "include_private": [default(False), boolean_validator],
        "include_drafts": [default(False), boolean_validator],
        "include_deleted": [default(False), boolean_validator],
    }


def _check_term_budget(params: dict[str, t.Any]) -> None:
    """``q``, ``fq`` and ``fq_list`` together hold at most
    ``heliograph.search.max_terms`` terms; the error names the field that
    went past it."""
    most = config.as_int(MAX_TERMS_KEY, 50)
    total = 0
    for field, texts in (
        ("q", [params["q"]]),
        ("fq", [params["fq"]]),
        ("fq_list", params.get("fq_list") or []),
    ):
        for text in texts:
            total += count_terms(text)
            if total > most:
                raise ValidationError(
                    {
                        field: [
                            f"The search holds more than {most} terms in q, fq and fq_list "
                            f"together (configuration key {MAX_TERMS_KEY})"
                        ]
                    }
                )


def parse(data_dict: DataDict, context: Context) -> dict[str, t.Any]:
    """The validated search parameters of ``data_dict`` (defaults filled in).

    An unknown parameter raises SearchQueryError naming it; a bad value or a
    query past the term budget raises ValidationError.
    """
    unknown = sorted(
        key for key in data_dict if key not in SEARCH_KEYS and not key.startswith(("ext_", "_"))
    )
    if unknown:
        raise SearchQueryError(
            {key: ["Invalid search parameter"] for key in unknown},
            f"Invalid search parameters: {', '.join(unknown)}",
        )
    params = validate_or_raise(data_dict, _search_schema(), context)
    _check_term_budget(params)
    return params


def conditions(params: dict[str, t.Any], labels: set[str] | None) -> list[t.Any]:
    """The SQL conditions a dataset must meet for ``params``, seen by a caller
    with permission ``labels`` (None: every dataset)."""
    states = [model.tables.ACTIVE]
    if params["include_drafts"]:
        states.append("draft")
    if params["include_deleted"]:
        states.append(model.tables.DELETED)
    where: list[t.Any] = [model.Package.state.in_(states)]
    if not params["include_private"]:
        where.append(model.Package.private.is_(False))
    if labels is not None:
        where.append(label_filter(labels))
    where += _clauses(params["q"], "q")
    where += _clauses(params["fq"], "fq")
    for fq in params.get("fq_list") or []:
        where += _clauses(fq, "fq_list")
    return where


def run(
    session: t.Any,
    params: dict[str, t.Any],
    labels: set[str] | None,
    dictize: t.Callable[[model.Package, list[model.Group]], dict[str, t.Any]],
) -> dict[str, t.Any]:
    """``{count, results, facets, search_facets, sort}`` of the search
    ``params`` (from :func:`parse`); each result is ``dictize(package, its groups)``.

    Answers are kept in :data:`heliograph.logic.cache.searches` under the
    caller's permission ``labels`` and the parameters."""
    rows = min(params["rows"], config.as_int("heliograph.search.rows_max", 1000))
    token = cache.token(session) if cache.searches.max_bytes else None
    key = (None if labels is None else tuple(sorted(labels)), rows, repr(sorted(params.items())))
    if token is not None:
        entry = cache.searches.get(token, key)
        if entry is not None:
            return t.cast(dict[str, t.Any], entry.document())
    answer = _search(session, params, labels, rows, dictize)
    if token is not None:
        cache.searches.put(token, key, answer)
    return answer


def _search(
    session: t.Any,
    params: dict[str, t.Any],
    labels: set[str] | None,
    rows: int,
    dictize: t.Callable[[model.Package, list[model.Group]], dict[str, t.Any]],
) -> dict[str, t.Any]:
    where = conditions(params, labels)
    matching = select(model.Package.id).where(*where)
    count = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    order = _parse_sort(params["sort"])
    packages = session.scalars(
        select(model.Package)
        .options(
            selectinload(model.Package.resources),
            selectinload(model.Package.extras),
            selectinload(model.Package.package_tags).joinedload(model.PackageTag.tag),
            joinedload(model.Package.organization),
        )
        .where(*where)
        .order_by(*order)
        .offset(params["start"])
        .limit(rows)
    ).all()
    groups = package_groups(session, [package.id for package in packages])
    results = [dictize(package, groups[package.id]) for package in packages]
    if params.get("fl"):
        fields = [f.strip() for f in params["fl"].split(",") if f.strip()]
        results = [{f: r.get(f) for f in fields} for r in results]

    facets: dict[str, dict[str, int]] = {}
    search_facets: dict[str, t.Any] = {}
    if params["facet"]:
        for field in params.get("facet.field") or []:
            counts = _facet_counts(session, field, matching, params)
            facets[field] = {name: n for name, _display, n in counts}
            search_facets[field] = {
                "title": field,
                "items": [
                    {"name": name, "display_name": display, "count": n}
                    for name, display, n in counts
                ],
            }
    return {
        "count": count,
        "results": results,
        "facets": facets,
        "search_facets": search_facets,
        "sort": params["sort"],
    }


def label_filter(labels: set[str]) -> t.Any:
    """SQL for "the dataset's permission labels meet ``labels``"."""
    orgs = [label[len("member-") :] for label in labels if label.startswith("member-")]
    creators = [label[len("creator-") :] for label in labels if label.startswith("creator-")]
    public = sa.and_(model.Package.state == model.tables.ACTIVE, model.Package.private.is_(False))
    options = [public]
    if orgs:
        options.append(model.Package.owner_org.in_(orgs))
    if creators:
        options.append(
            sa.and_(model.Package.owner_org.is_(None), model.Package.creator_user_id.in_(creators))
        )
    return or_(*options)


def _facet_counts(
    session: t.Any, field: str, matching: t.Any, params: dict[str, t.Any]
) -> list[tuple[str, str, int]]:
    ids = matching.subquery()
    query: t.Any
    if field == "organization":
        query = (
            select(model.Group.name, model.Group.title, func.count(model.Package.id))
            .join(model.Package, model.Package.owner_org == model.Group.id)
            .where(model.Package.id.in_(select(ids.c.id)))
            .group_by(model.Group.name, model.Group.title)
        )
    elif field == "groups":
        query = (
            select(model.Group.name, model.Group.title, func.count(model.Member.table_id))
            .join(model.Member, model.Member.group_id == model.Group.id)
            .where(
                model.Member.table_name == "package",
                model.Member.state == model.tables.ACTIVE,
                model.Member.table_id.in_(select(ids.c.id)),
                model.Group.is_organization.is_(False),
            )
            .group_by(model.Group.name, model.Group.title)
        )
    elif field == "tags":
        query = (
            select(model.Tag.name, model.Tag.name, func.count(model.PackageTag.package_id))
            .join(model.PackageTag, model.PackageTag.tag_id == model.Tag.id)
            .where(model.PackageTag.package_id.in_(select(ids.c.id)))
            .group_by(model.Tag.name)
        )
    elif field == "res_format":
        query = (
            select(
                model.Resource.format,
                model.Resource.format,
                func.count(sa.distinct(model.Resource.package_id)),
            )
            .where(
                model.Resource.package_id.in_(select(ids.c.id)),
                model.Resource.state == model.tables.ACTIVE,
                model.Resource.format.is_not(None),
                model.Resource.format != "",
            )
            .group_by(model.Resource.format)
        )
    elif field == "license_id":
        query = (
            select(model.Package.license_id, model.Package.license_id, func.count(model.Package.id))
            .where(model.Package.id.in_(select(ids.c.id)), model.Package.license_id.is_not(None))
            .group_by(model.Package.license_id)
        )
    else:
        return []
    rows = [(name, display or name, int(n)) for name, display, n in session.execute(query)]
    if field == "license_id":  # as CKAN: a known licence is shown by its title
        from heliograph.logic.dictization import LICENSES

        rows = [(name, LICENSES.get(name, (shown,))[0], n) for name, shown, n in rows]
    rows = [row for row in rows if row[2] >= params["facet.mincount"]]
    rows.sort(key=lambda row: (-row[2], row[0]))
    limit = params["facet.limit"]
    return rows if limit < 0 else rows[:limit]
