"""Read actions. Every one is side-effect free (callable with GET)."""

from __future__ import annotations

import inspect
import shlex
import typing as t

import sqlalchemy as sa
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import selectinload

from heliograph import model
from heliograph.logic import (
    Context,
    DataDict,
    ObjectNotFound,
    SearchQueryError,
    ValidationError,
    check_access,
    get_action,
)
from heliograph.logic import auth as authz
from heliograph.logic.dictization import (
    LICENSES,
    group_dictize,
    package_dictize,
    user_dictize,
)
from heliograph.logic.settings import config
from heliograph.logic.validation import (
    MAX_PAGE,
    MAX_TERMS_KEY,
    NUL_MESSAGE,
    boolean_validator,
    count_terms,
    default,
    ignore_empty,
    ignore_missing,
    int_validator,
    page_number,
    require_mapping,
    search_text,
    search_text_list,
    string_type,
    validate_or_raise,
)

__all__ = [
    "api_token_list",
    "group_list",
    "help_show",
    "group_show",
    "license_list",
    "organization_list",
    "organization_show",
    "package_list",
    "package_search",
    "package_show",
    "resource_show",
    "site_read",
    "status_show",
    "user_list",
    "user_show",
]

CKAN_VERSION = "2.11.5"
"""The CKAN release whose API heliograph follows (reported by status_show)."""


def _session(context: Context) -> t.Any:
    return context.get("session", model.Session)


def site_read(context: Context, data_dict: DataDict) -> bool:
    """Always true: the site can be read. (CKAN removed it in 2.11; kept here.)"""
    check_access("site_read", context, data_dict)
    return True


def help_show(context: Context, data_dict: DataDict) -> str | None:
    """The documentation of the action named ``name`` (the page every API
    response's ``help`` link points at)."""
    check_access("help_show", context, data_dict)
    name = data_dict.get("name")
    if not isinstance(name, str) or not name:
        raise ValidationError({"name": ["Missing value"]})
    from heliograph.logic import UnknownAction, registry

    try:
        action = registry.actions()[name]
    except KeyError:
        raise ObjectNotFound(str(UnknownAction(name))) from None
    return inspect.getdoc(action)


GENERIC_LICENSES = frozenset(
    {"notspecified", "other-open", "other-pd", "other-at", "other-nc", "other-closed"}
)
SOFTWARE_LICENSES = frozenset({"gfdl"})
DATA_LICENSES = frozenset({"odc-pddl", "odc-odbl", "odc-by"})


def license_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """The licences a dataset's ``license_id`` may name (CKAN's default list),
    each as CKAN's ``license_dictize`` gives it: ``id``, ``title``, ``url``,
    ``status``, ``od_conformance``, ``osd_conformance``, ``is_okd_compliant``,
    ``is_osi_compliant``, ``is_generic``, ``family``, ``maintainer`` and the
    ``domain_content``/``domain_data``/``domain_software`` flags."""
    check_access("license_list", context, data_dict)
    found = []
    for license_id, (title, url, is_open) in LICENSES.items():
        found.append(
            {
                "id": license_id,
                "title": title,
                "url": url,
                "status": "active",
                "od_conformance": "approved" if is_open else "not reviewed",
                "osd_conformance": "not reviewed",
                "is_okd_compliant": is_open,
                "is_osi_compliant": False,
                "is_generic": license_id in GENERIC_LICENSES,
                "family": "",
                "maintainer": "",
                "domain_content": license_id not in DATA_LICENSES,
                "domain_data": license_id in DATA_LICENSES,
                "domain_software": license_id in SOFTWARE_LICENSES,
            }
        )
    return found


def status_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """The site's title, description, URL, locale, enabled plugins and the
    CKAN version followed (hidden from non-sysadmins by ``hide_version``)."""
    check_access("status_show", context, data_dict)
    result: dict[str, t.Any] = {
        "site_title": config.get("heliograph.site_title"),
        "site_description": config.get("heliograph.site_description"),
        "site_url": config.get("heliograph.site_url"),
        "error_emails_to": config.get("heliograph.error_emails_to"),
        "locale_default": config.get("heliograph.locale_default"),
        "extensions": config.as_list("heliograph.plugins"),
    }
    if not config.as_bool("heliograph.hide_version") or authz.is_sysadmin(context):
        result["ckan_version"] = CKAN_VERSION
    return result


# -- datasets ------------------------------------------------------------------------


def _id_param(data_dict: DataDict, *keys: str) -> str:
    """The first of ``keys`` present, as a string; ValidationError otherwise."""
    for key in keys:
        value = data_dict.get(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValidationError({key: ["Must be a string"]})
        if "\x00" in value:
            raise ValidationError({key: [NUL_MESSAGE]})
        return value
    raise ValidationError({keys[0]: ["Missing value"]})


def package_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """The dataset ``id`` (id or name; ``name_or_id`` also accepted).

    A private dataset is refused (NotAuthorized, not ObjectNotFound) to
    callers outside its organization, as CKAN's API does.
    """
    data_dict = require_mapping(data_dict)
    ref = _id_param(data_dict, "id", "name_or_id")
    package = authz.package_by_id_or_name(context, ref)
    if package is None:
        raise ObjectNotFound()
    check_access("package_show", context, {**data_dict, "id": package.id})
    return package_dictize(package, context)


def package_list(context: Context, data_dict: DataDict) -> list[str]:
    """Names of the active public datasets, sorted; ``limit``/``offset`` page."""
    check_access("package_list", context, data_dict)
    params = validate_or_raise(
        require_mapping(data_dict),
        {
            "limit": [ignore_empty, page_number],
            "offset": [ignore_empty, page_number],
        },
        context,
    )
    query = (
        select(model.Package.name)
        .where(model.Package.state == model.tables.ACTIVE, model.Package.private.is_(False))
        .order_by(model.Package.name)
    )
    if params.get("limit") not in (None, ""):
        query = query.limit(params["limit"])
    if params.get("offset") not in (None, ""):
        query = query.offset(params["offset"])
    return list(_session(context).scalars(query))


# -- package_search ------------------------------------------------------------------

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


def _contains(column: t.Any, term: str) -> t.Any:
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
        _contains(model.Tag.name, term),
    )
    return or_(
        _contains(model.Package.name, term),
        _contains(model.Package.title, term),
        _contains(model.Package.notes, term),
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
            _text_term(value)
            if field == "text"
            else _contains(getattr(model.Package, field), value)
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


def package_search(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Search the datasets in the database.

    ``q`` matches words (all must match, case-insensitively) in the name,
    title, notes and tag names, and accepts ``field:value`` clauses like
    ``fq``: ``organization``, ``groups``, ``tags``, ``res_format``,
    ``license_id``, ``name``, ``id``, ``type``/``dataset_type``,
    ``capacity``, with ``-`` to negate. ``rows`` (default 10) is capped at
    ``heliograph.search.rows_max``; ``sort`` takes ``name``, ``title``,
    ``metadata_modified``, ``metadata_created`` with ``asc``/``desc``
    (``score`` is accepted and ignored). Private datasets appear only with
    ``include_private`` and only for callers who may read them.

    Returns ``{count, results, facets, search_facets, sort}``.
    """
    data_dict = require_mapping(data_dict)
    check_access("package_search", context, data_dict)
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
    rows = min(params["rows"], config.as_int("heliograph.search.rows_max", 1000))

    states = [model.tables.ACTIVE]
    if params["include_drafts"]:
        states.append("draft")
    if params["include_deleted"]:
        states.append(model.tables.DELETED)
    conditions: list[t.Any] = [model.Package.state.in_(states)]
    if not params["include_private"]:
        conditions.append(model.Package.private.is_(False))
    labels = authz.user_labels(context)
    if labels is not None:
        conditions.append(_label_filter(labels))
    conditions += _clauses(params["q"], "q")
    conditions += _clauses(params["fq"], "fq")
    for fq in params.get("fq_list") or []:
        conditions += _clauses(fq, "fq_list")

    session = _session(context)
    matching = select(model.Package.id).where(*conditions)
    count = session.scalar(select(func.count()).select_from(matching.subquery())) or 0
    order = _parse_sort(params["sort"])
    packages = session.scalars(
        select(model.Package)
        .options(
            selectinload(model.Package.resources),
            selectinload(model.Package.extras),
            selectinload(model.Package.package_tags).joinedload(model.PackageTag.tag),
        )
        .where(*conditions)
        .order_by(*order)
        .offset(params["start"])
        .limit(rows)
    ).all()
    results = [package_dictize(package, context) for package in packages]
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


def _label_filter(labels: set[str]) -> t.Any:
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
    rows = [row for row in rows if row[2] >= params["facet.mincount"]]
    rows.sort(key=lambda row: (-row[2], row[0]))
    limit = params["facet.limit"]
    return rows if limit < 0 else rows[:limit]


# -- resources -----------------------------------------------------------------------


def resource_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """An active resource, as it appears in its dataset's ``package_show``."""
    data_dict = require_mapping(data_dict)
    resource_id = _id_param(data_dict, "id")
    resource = _session(context).get(model.Resource, resource_id)
    if resource is None:
        raise ObjectNotFound("Resource was not found.")
    check_access("resource_show", context, data_dict)
    package = get_action("package_show")(dict(context), {"id": resource.package_id})
    for resource_dict in package["resources"]:
        if resource_dict["id"] == resource_id:
            return t.cast(dict[str, t.Any], resource_dict)
    raise ObjectNotFound("Resource was not found.")


# -- groups and organizations ------------------------------------------------------


def _group_object(context: Context, data_dict: DataDict, organization: bool) -> model.Group:
    ref = _id_param(data_dict, "id")
    group = authz.group_by_id_or_name(context, ref)
    if group is None or bool(group.is_organization) != organization:
        raise ObjectNotFound(
            "Organization was not found." if organization else "Group was not found."
        )
    return group


def _visible_package_condition(context: Context) -> list[t.Any]:
    """Active datasets the caller may see (private ones only to those who may)."""
    conditions = [model.Package.state == model.tables.ACTIVE]
    labels = authz.user_labels(context)
    if labels is not None:
        conditions.append(_label_filter(labels))
    return conditions


def _group_packages_condition(group: model.Group) -> t.Any:
    if group.is_organization:
        return model.Package.owner_org == group.id
    return exists().where(
        model.Member.table_name == "package",
        model.Member.table_id == model.Package.id,
        model.Member.state == model.tables.ACTIVE,
        model.Member.group_id == group.id,
    )


def _group_users(context: Context, group: model.Group) -> list[dict[str, t.Any]]:
    rows = (
        _session(context)
        .execute(
            select(model.User, model.Member.capacity)
            .join(model.Member, model.Member.table_id == model.User.id)
            .where(
                model.Member.group_id == group.id,
                model.Member.table_name == "user",
                model.Member.state == model.tables.ACTIVE,
                model.User.state != model.tables.DELETED,
            )
            .order_by(model.User.name)
        )
        .all()
    )
    users = []
    for user, capacity in rows:
        user_dict = user_dictize(user, context)
        user_dict["capacity"] = capacity
        users.append(user_dict)
    return users


def group_to_dict(
    context: Context, group: model.Group, options: dict[str, t.Any]
) -> dict[str, t.Any]:
    """The show-dict of ``group`` for ``options`` (validated include_* flags)."""
    session = _session(context)
    visible = [_group_packages_condition(group), *_visible_package_condition(context)]
    package_count = 0
    if options.get("include_dataset_count", True):
        package_count = int(
            session.scalar(select(func.count(model.Package.id)).where(*visible)) or 0
        )
    packages = None
    if options.get("include_datasets"):
        packages = [
            package_dictize(p, context)
            for p in session.scalars(
                select(model.Package).where(*visible).order_by(model.Package.name).limit(1000)
            )
        ]
    users = _group_users(context, group) if options.get("include_users") else None
    member_count = None
    if options.get("include_member_count"):
        member_count = int(
            session.scalar(
                select(func.count(model.Member.id)).where(
                    model.Member.group_id == group.id,
                    model.Member.table_name == "user",
                    model.Member.state == model.tables.ACTIVE,
                )
            )
            or 0
        )
    return group_dictize(
        group,
        context,
        package_count=package_count,
        users=users,
        packages=packages,
        member_count=member_count,
        include_extras=options.get("include_extras", True),
        include_groups=options.get("include_groups", True),
        include_tags=options.get("include_tags", True),
        include_followers=options.get("include_followers", True),
    )


def _show_flags(*, default_all: bool) -> dict[str, list[t.Any]]:
    flag = default(default_all)
    return {
        "include_datasets": [default(False), boolean_validator],
        "include_dataset_count": [default(True), boolean_validator],
        "include_extras": [flag, boolean_validator],
        "include_users": [
            default(default_all and config.auth("public_user_details")),
            boolean_validator,
        ],
        "include_groups": [flag, boolean_validator],
        "include_tags": [flag, boolean_validator],
        "include_followers": [flag, boolean_validator],
        "include_member_count": [default(False), boolean_validator],
    }


def _group_show(context: Context, data_dict: DataDict, organization: bool) -> dict[str, t.Any]:
    data_dict = require_mapping(data_dict)
    group = _group_object(context, data_dict, organization)
    name = "organization_show" if organization else "group_show"
    check_access(name, context, {**data_dict, "id": group.id})
    options = validate_or_raise(data_dict, _show_flags(default_all=True), context)
    return group_to_dict(context, group, options)


def group_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """A group (an organization's id gives ObjectNotFound)."""
    return _group_show(context, data_dict, organization=False)


def organization_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """An organization (a group's id gives ObjectNotFound)."""
    return _group_show(context, data_dict, organization=True)


GROUP_SORT_FIELDS = ("name", "title", "package_count")


def _group_list(context: Context, data_dict: DataDict, organization: bool) -> list[t.Any]:
    data_dict = require_mapping(data_dict)
    name = "organization_list" if organization else "group_list"
    check_access(name, context, data_dict)
    names_key = "organizations" if organization else "groups"
    schema: dict[str, list[t.Any]] = {
        "sort": [default("title asc"), search_text],
        "limit": [ignore_empty, page_number],
        "offset": [default(0), page_number],
        "q": [ignore_missing, search_text],
        names_key: [ignore_missing, search_text_list],
        "all_fields": [default(False), boolean_validator],
        "type": [ignore_missing, string_type()],
        **_show_flags(default_all=False),
    }
    params = validate_or_raise(data_dict, schema, context)
    sort_field, _, direction = params["sort"].strip().partition(" ")
    direction = direction.strip().lower() or "asc"
    if sort_field not in GROUP_SORT_FIELDS or direction not in ("asc", "desc"):
        raise ValidationError({"sort": [f"Cannot sort by field `{sort_field}`"]})
    max_limit = config.as_int(
        "heliograph.group_and_organization_list_all_fields_max"
        if params["all_fields"]
        else "heliograph.group_and_organization_list_max",
        1000,
    )
    limit = min(params.get("limit", max_limit), max_limit)

    query = select(model.Group).where(
        model.Group.is_organization.is_(organization), model.Group.state == model.tables.ACTIVE
    )
    if params.get("type"):
        query = query.where(model.Group.type == params["type"])
    if params.get("q"):
        term = params["q"]
        query = query.where(
            or_(
                _contains(model.Group.name, term),
                _contains(model.Group.title, term),
                _contains(model.Group.description, term),
            )
        )
    if params.get(names_key):
        query = query.where(model.Group.name.in_(params[names_key]))
    groups = list(_session(context).scalars(query))
    counts: dict[str, int] = {}
    if sort_field == "package_count" or params["all_fields"]:
        for group in groups:
            counts[group.id] = int(
                _session(context).scalar(
                    select(func.count(model.Package.id)).where(
                        _group_packages_condition(group), *_visible_package_condition(context)
                    )
                )
                or 0
            )

    def key(group: model.Group) -> t.Any:
        if sort_field == "package_count":
            return counts.get(group.id, 0)
        if sort_field == "title":
            return (group.title or group.name).lower()
        return group.name

    groups.sort(key=lambda g: g.name)
    groups.sort(key=key, reverse=direction == "desc")
    page = groups[params["offset"] : params["offset"] + limit]
    if not params["all_fields"]:
        return [group.name for group in page]
    return [group_to_dict(context, group, params) for group in page]


def group_list(context: Context, data_dict: DataDict) -> list[t.Any]:
    """Names of the active groups (show-dicts with ``all_fields``)."""
    return _group_list(context, data_dict, organization=False)


def organization_list(context: Context, data_dict: DataDict) -> list[t.Any]:
    """Names of the active organizations (show-dicts with ``all_fields``)."""
    return _group_list(context, data_dict, organization=True)


# -- users ----------------------------------------------------------------------------


def _may_see_private_details(context: Context, user: model.User) -> bool:
    caller = authz.current_user(context)
    return authz.is_sysadmin(context) or (caller is not None and caller.id == user.id)


def user_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """A user (``id`` is an id or a name, and defaults to the caller).

    ``email`` and ``apikey`` are shown to the user themselves and to
    sysadmins; ``include_password_hash`` works for sysadmins only;
    ``include_datasets`` adds up to 50 of the datasets they created that the
    caller may see.
    """
    data_dict = require_mapping(data_dict)
    ref = data_dict.get("id")
    if ref in (None, ""):
        user = authz.current_user(context)
    elif not isinstance(ref, str):
        raise ValidationError({"id": ["Must be a string"]})
    else:
        user = authz.user_by_id_or_name(context, ref)
    if user is None:
        raise ObjectNotFound("User not found")
    check_access("user_show", context, {**data_dict, "id": user.id})
    params = validate_or_raise(
        data_dict,
        {
            "include_datasets": [default(False), boolean_validator],
            "include_password_hash": [default(False), boolean_validator],
            "include_num_followers": [default(False), boolean_validator],
        },
        context,
    )
    private = _may_see_private_details(context, user)
    session = _session(context)
    created = [
        model.Package.creator_user_id == user.id,
        *_visible_package_condition(context),
    ]
    if not private:
        created.append(model.Package.private.is_(False))
    count = int(session.scalar(select(func.count(model.Package.id)).where(*created)) or 0)
    result = user_dictize(
        user,
        context,
        include_email=private,
        include_password_hash=params["include_password_hash"] and authz.is_sysadmin(context),
        number_created_packages=count,
    )
    if params["include_num_followers"]:
        result["num_followers"] = 0
    if params["include_datasets"]:
        result["datasets"] = [
            package_dictize(p, context)
            for p in session.scalars(
                select(model.Package)
                .where(*created)
                .order_by(model.Package.metadata_modified.desc())
                .limit(50)
            )
        ]
    return result


def api_token_list(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """The API tokens of the user ``user_id`` (an id or a name; CKAN's older
    ``user`` is accepted too), oldest first: ``id`` (the ``jti`` that
    ``api_token_revoke`` takes), ``name``, ``user_id``, ``created_at`` and
    ``last_access``. Never the secret. Only for the user themselves and sysadmins."""
    data_dict = require_mapping(data_dict)
    ref = data_dict.get("user_id") or data_dict.get("user")
    if not ref or not isinstance(ref, str):
        raise ValidationError({"user_id": ["Missing value"]})
    user = authz.user_by_id_or_name(context, ref)
    if user is None:
        raise ObjectNotFound("User not found")
    check_access("api_token_list", context, {**data_dict, "user_id": user.id})
    rows = _session(context).scalars(
        select(model.ApiToken)
        .where(model.ApiToken.user_id == user.id)
        .order_by(model.ApiToken.created_at, model.ApiToken.id)
    )
    return [
        {
            "id": row.id,
            "name": row.name,
            "user_id": row.user_id,
            "created_at": row.created_at.isoformat(),
            "last_access": row.last_access.isoformat() if row.last_access else None,
        }
        for row in rows
    ]


USER_ORDER_FIELDS = ("name", "fullname", "display_name", "created", "email", "last_active")


def user_list(context: Context, data_dict: DataDict) -> list[t.Any]:
    """Active (not deleted) users: dicts (``all_fields``, the default) or names.

    ``q`` matches name and full name (and e-mail for sysadmins); ``email``
    filters by exact e-mail (sysadmins only); ``order_by`` is one of
    name, fullname, display_name (default), created, email, last_active.
    """
    data_dict = require_mapping(data_dict)
    check_access("user_list", context, data_dict)
    params = validate_or_raise(
        data_dict,
        {
            "q": [ignore_missing, search_text],
            "email": [ignore_missing, search_text],
            "order_by": [default("display_name"), search_text],
            "all_fields": [default(True), boolean_validator],
            "limit": [ignore_empty, page_number],
            "offset": [default(0), page_number],
        },
        context,
    )
    sysadmin = authz.is_sysadmin(context)
    order_by = params["order_by"]
    if order_by not in USER_ORDER_FIELDS or (order_by == "email" and not sysadmin):
        raise ValidationError({"order_by": [f"Cannot order by field `{order_by}`"]})
    query = select(model.User).where(model.User.state != model.tables.DELETED)
    if params.get("q"):
        term = params["q"]
        options = [_contains(model.User.name, term), _contains(model.User.fullname, term)]
        if sysadmin:
            options.append(_contains(model.User.email, term))
        query = query.where(or_(*options))
    if params.get("email") and sysadmin:
        query = query.where(func.lower(model.User.email) == params["email"].lower())
    if order_by == "display_name":
        column: t.Any = func.lower(
            func.coalesce(func.nullif(model.User.fullname, ""), model.User.name)
        )
    else:
        column = getattr(model.User, order_by)
    query = query.order_by(column, model.User.name).offset(params["offset"])
    if params.get("limit") is not None:
        query = query.limit(params["limit"])
    users = list(_session(context).scalars(query))
    if not params["all_fields"]:
        return [user.name for user in users]
    return [
        user_dictize(user, context, include_email=_may_see_private_details(context, user))
        for user in users
    ]
