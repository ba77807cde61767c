"""Create actions."""

from __future__ import annotations

import typing as t

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from heliograph import model
from heliograph.logic import (
    Context,
    DataDict,
    NotAuthorized,
    ObjectNotFound,
    ValidationError,
    check_access,
    get_action,
    tokens,
    uploads,
    users,
)
from heliograph.logic import auth as authz
from heliograph.logic.action import (
    NOT_RESOURCE_KEYS,
    require,
    session_of,
    stage_upload,
    unwrap_resource_errors,
)
from heliograph.logic.dictization import member_dictize, package_dictize, user_dictize
from heliograph.logic.model_save import lock_package, package_save
from heliograph.logic.schema import (
    group_schema,
    user_conflict,
    user_create_schema,
    validate_package,
)
from heliograph.logic.validation import (
    max_length,
    not_empty,
    require_mapping,
    string_type,
    validate_or_raise,
)

__all__ = [
    "api_token_create",
    "group_create",
    "group_member_create",
    "member_create",
    "organization_create",
    "organization_member_create",
    "package_create",
    "resource_create",
    "user_create",
]


def flush_or_conflict(session: t.Any, field: str, message: str) -> None:
    """Flush; a uniqueness race lost to another writer becomes the same
    ValidationError the validator would have given."""
    try:
        session.flush()
    except IntegrityError:
        raise ValidationError({field: [message]}) from None


# -- datasets and resources -------------------------------------------------------------


def package_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Create a dataset; returns it as ``package_show`` would.

    ``name`` is required, and ``owner_org`` too unless
    ``heliograph.auth.create_unowned_dataset`` is on. Only sysadmins may set
    ``id`` (a UUID). Unknown keys are dropped.
    """
    data_dict = require_mapping(data_dict)
    check_access("package_create", context, data_dict)
    clean, errors = validate_package(data_dict, context)
    if errors:
        raise ValidationError(errors)
    session = session_of(context)
    user = authz.current_user(context)
    try:
        package = package_save(session, clean, creator_user_id=user.id if user else None)
    except IntegrityError:
        raise ValidationError({"name": ["That URL is already in use."]}) from None
    return package_dictize(package, context)


def resource_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Add a resource to dataset ``package_id`` (through ``package_update``).

    Keys that are not resource fields are kept as the resource's extras. A
    file in ``upload`` (multipart, as ckanapi sends it) is stored under the
    storage folder and served at the resource's download URL; over
    ``heliograph.max_resource_size_mb`` it is refused (ValidationError on
    ``upload``) and nothing is kept.
    """
    data_dict = require_mapping(data_dict)
    (package_ref,) = require(data_dict, "package_id")
    package = authz.package_by_id_or_name(context, package_ref)
    if package is not None:
        lock_package(session_of(context), package.id)
    package_dict = get_action("package_show")(dict(context), {"id": package_ref})
    check_access("resource_create", context, data_dict)
    resource = {key: value for key, value in data_dict.items() if key not in NOT_RESOURCE_KEYS}
    resource.pop("id", None)
    staged = stage_upload(context, data_dict, resource)
    if staged is None and not resource.get("format") and isinstance(resource.get("url"), str):
        guessed = uploads.guess_format(resource["url"])
        if guessed:
            resource["format"] = guessed
    package_dict["resources"] = [*package_dict.get("resources", []), resource]
    index = len(package_dict["resources"]) - 1
    try:
        updated = get_action("package_update")(context, package_dict)
    except ValidationError as exc:
        raise unwrap_resource_errors(exc, index) from None
    result = t.cast(dict[str, t.Any], updated["resources"][index])
    if staged is not None:
        uploads.place(staged, result["id"])
    return result


# -- groups and organizations ---------------------------------------------------------------


def _group_create(context: Context, data_dict: DataDict, organization: bool) -> dict[str, t.Any]:
    data_dict = require_mapping(data_dict)
    kind = "organization" if organization else "group"
    check_access(f"{kind}_create", context, data_dict)
    clean = validate_or_raise(data_dict, group_schema(), context)
    session = session_of(context)
    members: list[tuple[model.User, str]] = []
    for position, item in enumerate(clean.get("users") or []):
        user = authz.user_by_id_or_name(context, item["name"])
        if user is None:
            errors: list[dict[str, t.Any]] = [{} for _ in clean["users"]]
            errors[position] = {"name": ["User not found"]}
            raise ValidationError({"users": errors})
        members.append((user, item["capacity"]))
    group = model.Group(
        id=clean.get("id") or model.new_id(),
        name=clean["name"],
        title=clean.get("title"),
        description=clean.get("description"),
        image_url=clean.get("image_url"),
        type=clean.get("type") or kind,
        is_organization=organization,
        approval_status=clean.get("approval_status") or "approved",
        state=clean.get("state") or model.tables.ACTIVE,
        created=model.utcnow(),
    )
    session.add(group)
    flush_or_conflict(session, "name", "Group name already exists in database")
    for user, capacity in members:
        session.add(
            model.Member(group_id=group.id, table_name="user", table_id=user.id, capacity=capacity)
        )
    session.flush()
    creator = authz.current_user(context)
    if creator is not None:
        get_action("member_create")(
            {"session": session, "user": context.get("user"), "ignore_auth": True},
            {"id": group.id, "object": creator.id, "object_type": "user", "capacity": "admin"},
        )
    return t.cast(dict[str, t.Any], get_action(f"{kind}_show")(dict(context), {"id": group.id}))


def group_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Create a group; the creator becomes its admin (via ``member_create``)."""
    return _group_create(context, data_dict, organization=False)


def organization_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Create an organization; the creator becomes its admin (via ``member_create``)."""
    return _group_create(context, data_dict, organization=True)


MEMBER_OBJECT_TYPES = ("user", "package")


def member_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Make user or dataset ``object`` a member of group/organization ``id``
    with ``capacity`` (for users: admin, editor or member). Updates an
    existing membership. An admin cannot demote themselves."""
    data_dict = require_mapping(data_dict)
    group_ref, object_ref, object_type, capacity = require(
        data_dict, "id", "object", "object_type", "capacity"
    )
    group = authz.group_by_id_or_name(context, group_ref)
    if group is None:
        raise ObjectNotFound("Group was not found.")
    check_access("member_create", context, data_dict)
    if object_type not in MEMBER_OBJECT_TYPES:
        raise ValidationError(
            {"object_type": [f"Must be one of: {', '.join(MEMBER_OBJECT_TYPES)}"]}
        )
    obj: model.User | model.Package | None
    if object_type == "user":
        obj = authz.user_by_id_or_name(context, object_ref)
        if capacity not in authz.ROLES:
            raise ValidationError(
                {"capacity": [f"Role {capacity} does not exist: use {', '.join(authz.ROLES)}"]}
            )
    else:
        obj = authz.package_by_id_or_name(context, object_ref)
    if obj is None:
        raise ObjectNotFound(f"{object_type.title()} was not found.")
    session = session_of(context)
    member = session.scalar(
        select(model.Member).where(
            model.Member.group_id == group.id,
            model.Member.table_name == object_type,
            model.Member.table_id == obj.id,
        )
    )
    if member is None:
        member = model.Member(
            group_id=group.id, table_name=object_type, table_id=obj.id, capacity=capacity
        )
        session.add(member)
    else:
        caller = authz.current_user(context)
        if (
            object_type == "user"
            and caller is not None
            and caller.id == obj.id
            and member.capacity == "admin"
            and capacity != "admin"
            and member.state == model.tables.ACTIVE
            and not context.get("ignore_auth")
            and not authz.is_sysadmin(context)
        ):
            raise NotAuthorized("Administrators cannot revoke their own admin status")
        member.capacity = capacity
        member.state = model.tables.ACTIVE
    session.flush()
    return member_dictize(member)


def _group_member_create(
    context: Context, data_dict: DataDict, organization: bool
) -> dict[str, t.Any]:
    from heliograph.logic.action.update import group_of_kind

    data_dict = require_mapping(data_dict)
    kind = "organization" if organization else "group"
    group_ref, username, role = require(data_dict, "id", "username", "role")
    group = group_of_kind(context, group_ref, organization)
    check_access(f"{kind}_member_create", context, {**data_dict, "id": group.id})
    user = authz.user_by_id_or_name(context, username)
    if user is None or user.state == model.tables.DELETED:
        raise ObjectNotFound(f"User {username} was not found.")
    return t.cast(
        dict[str, t.Any],
        get_action("member_create")(
            dict(context),
            {"id": group.id, "object": user.id, "object_type": "user", "capacity": role},
        ),
    )


def group_member_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Make user ``username`` (name or id) a member of group ``id`` with ``role``
    (admin, editor or member), or change their role; through ``member_create``."""
    return _group_member_create(context, data_dict, organization=False)


def organization_member_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Make user ``username`` a member of organization ``id`` with ``role``, or
    change their role; through ``member_create``."""
    return _group_member_create(context, data_dict, organization=True)


# -- users and tokens ----------------------------------------------------------------------


def user_create(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Create a user (``name``, ``email``, ``password`` required).

    The result includes ``email`` and ``apikey`` (None: heliograph has API
    tokens only) but never the password hash; ``with_apitoken`` adds a
    ``token`` made by ``api_token_create``. Over the API only sysadmins may
    call it unless ``create_user_via_api`` is on.
    """
    data_dict = require_mapping(data_dict)
    check_access("user_create", context, data_dict)
    clean = validate_or_raise(data_dict, user_create_schema(), context)
    session = session_of(context)
    try:
        user = users.create_user(
            session,
            name=clean["name"],
            email=clean["email"],
            password=clean["password"],
            fullname=clean.get("fullname"),
            about=clean.get("about"),
            image_url=clean.get("image_url"),
            sysadmin=bool(clean.get("sysadmin", False)),
            state=clean.get("state") or model.tables.ACTIVE,
        )
    except IntegrityError as exc:
        raise ValidationError(user_conflict(exc, clean["email"])) from None
    result = user_dictize(user, context, include_email=True, number_created_packages=0)
    if clean.get("with_apitoken"):
        token = get_action("api_token_create")(
            {**context, "ignore_auth": True}, {"user": user.name, "name": "default"}
        )
        result["token"] = token["token"]
    return result


def api_token_create(context: Context, data_dict: DataDict) -> dict[str, str]:
    """A new API token called ``name`` for ``user`` (yourself, unless you are
    a sysadmin). Returns ``{"token": <secret>}``; only a hash is stored."""
    data_dict = require_mapping(data_dict)
    user_ref, _name = require(data_dict, "user", "name")
    user = authz.user_by_id_or_name(context, user_ref)
    if user is None:
        raise ObjectNotFound("User not found")
    check_access("api_token_create", context, data_dict)
    clean = validate_or_raise(
        data_dict,
        {
            "name": [
                not_empty,
                string_type(),
                max_length(200, "Name must be at most 200 characters"),
            ]
        },
        context,
    )
    _row, token = tokens.create_token(session_of(context), user, clean["name"])
    return {"token": token}
