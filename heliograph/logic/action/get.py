"""Read actions. Every one is side-effect free (callable with GET)."""

from __future__ import annotations

import inspect
import re
import typing as t

import sqlalchemy as sa
from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from heliograph import model
from heliograph.config import config
from heliograph.logic import (
    Context,
    DataDict,
    ObjectNotFound,
    UnknownAction,
    ValidationError,
    cache,
    check_access,
    get_action,
    registry,
    search,
)
from heliograph.logic import auth as authz
from heliograph.logic.action import session_of
from heliograph.logic.dictization import (
    LICENSES,
    group_dictize,
    package_dictize,
    user_dictize,
)
from heliograph.logic.validation import (
    NUL_MESSAGE,
    boolean_validator,
    default,
    ignore_empty,
    ignore_missing,
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
    "member_list",
    "member_roles_list",
    "organization_list",
    "organization_list_for_user",
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
    session = session_of(context)
    token = cache.token(session) if cache.datasets.max_bytes else None
    entry = cache.datasets.get(token, ref) if token is not None else None
    if entry is not None:
        package_id = t.cast(str, entry.key)
        context[authz.KNOWN_LABELS] = (package_id, entry.labels)
        try:
            check_access("package_show", context, {**data_dict, "id": package_id})
        finally:
            context.pop(authz.KNOWN_LABELS, None)
        return t.cast(dict[str, t.Any], entry.document())
    package = load_package(session, ref)
    if package is None:
        raise ObjectNotFound()
    check_access("package_show", context, {**data_dict, "id": package.id})
    document = package_dictize(package, context)
    if token is not None:
        aliases = () if _UUID_SHAPED.match(package.name) else (package.name,)
        cache.datasets.put(token, package.id, document, aliases, authz.dataset_labels(package))
    return document


_UUID_SHAPED = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
"""A name that could be some dataset's id is never a cache key: by id comes first."""


def load_package(session: t.Any, ref: str) -> model.Package | None:
    """The dataset whose id (first) or name is ``ref``, with what its
    document shows loaded in the same few queries."""
    rows = session.scalars(
        select(model.Package)
        .options(
            joinedload(model.Package.organization),
            selectinload(model.Package.resources),
            selectinload(model.Package.extras),
            selectinload(model.Package.package_tags).joinedload(model.PackageTag.tag),
        )
        .where(or_(model.Package.id == ref, model.Package.name == ref))
    ).all()
    for row in rows:
        if row.id == ref:
            return t.cast(model.Package, row)
    return t.cast("model.Package | None", rows[0] if rows else None)


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
    return list(session_of(context).scalars(query))


# -- package_search ------------------------------------------------------------------


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
    params = search.parse(data_dict, context)
    return search.run(
        session_of(context),
        params,
        authz.user_labels(context),
        lambda package, groups: package_dictize(package, context, groups),
    )


# -- resources -----------------------------------------------------------------------


def resource_show(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """An active resource, as it appears in its dataset's ``package_show``."""
    data_dict = require_mapping(data_dict)
    resource_id = _id_param(data_dict, "id")
    resource = session_of(context).get(model.Resource, resource_id)
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
        conditions.append(search.label_filter(labels))
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
        session_of(context)
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
    context: Context,
    group: model.Group,
    options: dict[str, t.Any],
    package_count: int | None = None,
) -> dict[str, t.Any]:
    """The show-dict of ``group`` for ``options`` (validated include_* flags);
    ``package_count`` when the caller counted its datasets already."""
    session = session_of(context)
    visible = [_group_packages_condition(group), *_visible_package_condition(context)]
    if not options.get("include_dataset_count", True):
        package_count = 0
    elif package_count is None:
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
                search.contains(model.Group.name, term),
                search.contains(model.Group.title, term),
                search.contains(model.Group.description, term),
            )
        )
    if params.get(names_key):
        query = query.where(model.Group.name.in_(params[names_key]))
    groups = list(session_of(context).scalars(query))
    counts: dict[str, int] = {}
    if sort_field == "package_count" or params["all_fields"]:
        counts = _package_counts(context, groups, organization)

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
    return [group_to_dict(context, group, params, counts.get(group.id, 0)) for group in page]


def _package_counts(
    context: Context, groups: list[model.Group], organization: bool
) -> dict[str, int]:
    """The datasets the caller may see in each of ``groups``, in one query."""
    if not groups:
        return {}
    ids = [group.id for group in groups]
    visible = _visible_package_condition(context)
    query: t.Any
    if organization:
        query = (
            select(model.Package.owner_org, func.count(model.Package.id))
            .where(model.Package.owner_org.in_(ids), *visible)
            .group_by(model.Package.owner_org)
        )
    else:
        query = (
            select(model.Member.group_id, func.count(sa.distinct(model.Package.id)))
            .join(model.Package, model.Package.id == model.Member.table_id)
            .where(
                model.Member.table_name == "package",
                model.Member.state == model.tables.ACTIVE,
                model.Member.group_id.in_(ids),
                *visible,
            )
            .group_by(model.Member.group_id)
        )
    return {group_id: int(n) for group_id, n in session_of(context).execute(query)}


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
    session = session_of(context)
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
    rows = session_of(context).scalars(
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
        options = [
            search.contains(model.User.name, term),
            search.contains(model.User.fullname, term),
        ]
        if sysadmin:
            options.append(search.contains(model.User.email, term))
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
    users = list(session_of(context).scalars(query))
    if not params["all_fields"]:
        return [user.name for user in users]
    return [
        user_dictize(user, context, include_email=_may_see_private_details(context, user))
        for user in users
    ]


# -- memberships -------------------------------------------------------------------


def member_list(context: Context, data_dict: DataDict) -> list[tuple[str, str, str]]:
    """The members of group or organization ``id``: ``(id, type, capacity)``
    triples, optionally only of ``object_type`` (``user``/``package``) and
    ``capacity``."""
    data_dict = require_mapping(data_dict)
    ref = _id_param(data_dict, "id")
    group = authz.group_by_id_or_name(context, ref)
    if group is None or group.state == model.tables.DELETED:
        raise ObjectNotFound("Group was not found.")
    check_access("member_list", context, {**data_dict, "id": group.id})
    params = validate_or_raise(
        data_dict,
        {
            "object_type": [ignore_missing, string_type()],
            "capacity": [ignore_missing, string_type()],
        },
        context,
    )
    query = select(model.Member.table_id, model.Member.table_name, model.Member.capacity).where(
        model.Member.group_id == group.id, model.Member.state == model.tables.ACTIVE
    )
    if params.get("object_type"):
        query = query.where(model.Member.table_name == params["object_type"])
    if params.get("capacity"):
        query = query.where(model.Member.capacity == params["capacity"])
    query = query.order_by(model.Member.table_name, model.Member.table_id)
    rows = session_of(context).execute(query)
    return [(str(i), str(kind), str(capacity)) for i, kind, capacity in rows]


ROLE_TITLES = {"admin": "Admin", "editor": "Editor", "member": "Member"}


def member_roles_list(context: Context, data_dict: DataDict) -> list[dict[str, str]]:
    """The roles a user may hold in a group or organization (``group_type``,
    default ``organization``): ``[{value, text}]``. Groups have no editors."""
    data_dict = require_mapping(data_dict)
    check_access("member_roles_list", context, data_dict)
    group_type = data_dict.get("group_type") or "organization"
    roles = authz.ROLES if group_type == "organization" else ("admin", "member")
    return [{"value": role, "text": ROLE_TITLES[role]} for role in roles]


def organization_list_for_user(context: Context, data_dict: DataDict) -> list[dict[str, t.Any]]:
    """The organizations where user ``id`` (default: the caller) holds
    ``permission`` (default ``manage_group``: any role), each with the user's
    ``capacity``; a sysadmin gets every organization (capacity ``admin``)."""
    data_dict = require_mapping(data_dict)
    check_access("organization_list_for_user", context, data_dict)
    params = validate_or_raise(
        data_dict,
        {
            "id": [ignore_missing, string_type()],
            "permission": [default("manage_group"), string_type()],
            "include_dataset_count": [default(False), boolean_validator],
        },
        context,
    )
    if params.get("id"):
        user = authz.user_by_id_or_name(context, params["id"])
        if user is None:
            raise ObjectNotFound("User not found")
    else:
        user = authz.current_user(context)
    if user is None:
        return []
    session = session_of(context)
    organizations = select(model.Group).where(
        model.Group.is_organization.is_(True), model.Group.state == model.tables.ACTIVE
    )
    found: list[tuple[model.Group, str]] = []
    if user.sysadmin:
        found = [(group, "admin") for group in session.scalars(organizations)]
    else:
        rows = session.execute(
            select(model.Group, model.Member.capacity)
            .join(model.Member, model.Member.group_id == model.Group.id)
            .where(
                model.Group.is_organization.is_(True),
                model.Group.state == model.tables.ACTIVE,
                model.Member.table_name == "user",
                model.Member.table_id == user.id,
                model.Member.state == model.tables.ACTIVE,
            )
        ).all()
        permission = params["permission"]
        found = [
            (group, capacity)
            for group, capacity in rows
            if permission in authz.PERMISSIONS.get(capacity, frozenset())
        ]
    found.sort(key=lambda item: (item[0].title or item[0].name).lower())
    options = {"include_dataset_count": params["include_dataset_count"]}
    result = []
    for group, capacity in found:
        group_dict = group_to_dict(context, group, options)
        group_dict["capacity"] = capacity
        result.append(group_dict)
    return result
