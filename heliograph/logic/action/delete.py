"""Delete actions. Datasets and resources are deleted softly (``state``)."""

from __future__ import annotations

import typing as t

from sqlalchemy import delete, select, update

from heliograph import logic, model
from heliograph.config import config
from heliograph.logic import (
    Context,
    DataDict,
    ObjectNotFound,
    check_access,
    get_action,
    tokens,
    users,
)
from heliograph.logic import auth as authz
from heliograph.logic.action import active_resource, require, target
from heliograph.logic.action.update import group_of_kind
from heliograph.logic.model_save import lock_package
from heliograph.logic.validation import require_mapping

__all__ = [
    "api_token_revoke",
    "group_delete",
    "group_member_delete",
    "member_delete",
    "organization_delete",
    "organization_member_delete",
    "package_delete",
    "resource_delete",
    "user_delete",
    "user_sessions_revoke",
]


def package_delete(context: Context, data_dict: DataDict) -> None:
    """Mark dataset ``id`` deleted and take it out of its groups. Returns None.

    A later ``package_create`` may reuse its name (the deleted row is then
    renamed to its id).
    """
    _data, package = target(
        context, data_dict, authz.package_by_id_or_name, "Package was not found.", "package_delete"
    )
    session = context.get("session", model.Session)
    package.state = model.tables.DELETED
    package.metadata_modified = model.utcnow()
    session.execute(
        delete(model.Member).where(
            model.Member.table_name == "package", model.Member.table_id == package.id
        )
    )
    session.flush()
    return None


def resource_delete(context: Context, data_dict: DataDict) -> None:
    """Delete resource ``id`` (through ``package_update``). Returns None."""
    data_dict = require_mapping(data_dict)
    (resource_id,) = require(data_dict, "id")
    resource = active_resource(context, resource_id)
    check_access("resource_delete", context, data_dict)
    lock_package(context.get("session", model.Session), resource.package_id)
    package_dict: dict[str, t.Any] = get_action("package_show")(
        dict(context), {"id": resource.package_id}
    )
    package_dict["resources"] = [
        item for item in package_dict.get("resources") or [] if item["id"] != resource_id
    ]
    get_action("package_update")(context, package_dict)
    return None


def api_token_revoke(context: Context, data_dict: DataDict) -> None:
    """Revoke an API token, named by the secret itself (``token``) or by its id
    (``jti``, as ``api_token_list`` shows it). It stops working at once: the
    row is deleted, and every request looks its token up."""
    data_dict = require_mapping(data_dict)
    token, jti = data_dict.get("token"), data_dict.get("jti")
    if isinstance(token, str) and token:
        jti = tokens.token_id(token.strip())
    if not isinstance(jti, str) or not jti:
        raise logic.ValidationError({"token": ["Either token or jti is required"]})
    session = context.get("session", model.Session)
    row = session.get(model.ApiToken, jti)
    if row is None:
        raise ObjectNotFound("API token not found")
    check_access("api_token_revoke", context, {**data_dict, "jti": jti, "user_id": row.user_id})
    session.execute(delete(model.ApiToken).where(model.ApiToken.id == jti))


def _group_delete(context: Context, data_dict: DataDict, organization: bool) -> None:
    data_dict = require_mapping(data_dict)
    kind = "organization" if organization else "group"
    (ref,) = require(data_dict, "id")
    group = group_of_kind(context, ref, organization)
    check_access(f"{kind}_delete", context, {**data_dict, "id": group.id})
    session = context.get("session", model.Session)
    if organization:
        owned = model.Package.owner_org == group.id
        active = model.Package.state != model.tables.DELETED
        has_datasets = session.scalar(select(model.Package.id).where(owned, active).limit(1))
        if has_datasets is not None:
            if not config.auth("create_unowned_dataset"):
                raise logic.ValidationError(
                    {"message": "Organization cannot be deleted while it still has datasets"}
                )
            session.execute(update(model.Package).where(owned).values(owner_org=None))
    group.state = model.tables.DELETED
    session.execute(
        update(model.Member)
        .where(model.Member.group_id == group.id)
        .values(state=model.tables.DELETED)
    )
    session.flush()
    return None


def group_delete(context: Context, data_dict: DataDict) -> None:
    """Delete group ``id`` (softly: its state becomes ``deleted``, and so do
    its memberships). Group admins and sysadmins. Returns None."""
    return _group_delete(context, data_dict, organization=False)


def organization_delete(context: Context, data_dict: DataDict) -> None:
    """Delete organization ``id`` softly, as ``group_delete``. While it still
    has datasets this is refused, unless ``create_unowned_dataset`` is on:
    then its datasets are detached from it. Returns None."""
    return _group_delete(context, data_dict, organization=True)


def member_delete(context: Context, data_dict: DataDict) -> None:
    """Take user or dataset ``object`` (``object_type``) out of group or
    organization ``id``. Returns None; removing what is not a member is a
    no-op."""
    data_dict = require_mapping(data_dict)
    group_ref, object_ref, object_type = require(data_dict, "id", "object", "object_type")
    group = authz.group_by_id_or_name(context, group_ref)
    if group is None or group.state == model.tables.DELETED:
        raise ObjectNotFound("Group was not found.")
    check_access("member_delete", context, {**data_dict, "id": group.id})
    obj: model.User | model.Package | None
    if object_type == "user":
        obj = authz.user_by_id_or_name(context, object_ref)
    elif object_type == "package":
        obj = authz.package_by_id_or_name(context, object_ref)
    else:
        raise logic.ValidationError({"object_type": ["Must be one of: user, package"]})
    if obj is None:
        raise ObjectNotFound(f"{object_type.title()} was not found.")
    session = context.get("session", model.Session)
    session.execute(
        update(model.Member)
        .where(
            model.Member.group_id == group.id,
            model.Member.table_name == object_type,
            model.Member.table_id == obj.id,
        )
        .values(state=model.tables.DELETED)
    )
    session.flush()
    return None


def _group_member_delete(context: Context, data_dict: DataDict, organization: bool) -> None:
    from heliograph.logic.action.update import group_of_kind

    data_dict = require_mapping(data_dict)
    kind = "organization" if organization else "group"
    (group_ref,) = require(data_dict, "id")
    user_ref = data_dict.get("user_id") or data_dict.get("username")
    if not user_ref or not isinstance(user_ref, str):
        raise logic.ValidationError({"user_id": ["Missing value"]})
    group = group_of_kind(context, group_ref, organization)
    check_access(f"{kind}_member_delete", context, {**data_dict, "id": group.id})
    user = authz.user_by_id_or_name(context, user_ref)
    if user is None:
        raise ObjectNotFound(f"User {user_ref} was not found.")
    get_action("member_delete")(
        dict(context), {"id": group.id, "object": user.id, "object_type": "user"}
    )
    return None


def group_member_delete(context: Context, data_dict: DataDict) -> None:
    """Take user ``user_id`` (id or name; ``username`` also accepted) out of
    group ``id``, through ``member_delete``. Returns None."""
    return _group_member_delete(context, data_dict, organization=False)


def organization_member_delete(context: Context, data_dict: DataDict) -> None:
    """Take user ``user_id`` out of organization ``id``, through
    ``member_delete``. Returns None."""
    return _group_member_delete(context, data_dict, organization=True)


def user_delete(context: Context, data_dict: DataDict) -> None:
    """Delete user ``id`` softly (state ``deleted``: they can no longer log in
    or use their tokens) and end their memberships. Sysadmins only. Returns None."""
    _data, user = target(
        context, data_dict, authz.user_by_id_or_name, "User not found", "user_delete"
    )
    session = context.get("session", model.Session)
    user.state = model.tables.DELETED
    session.execute(
        update(model.Member)
        .where(model.Member.table_name == "user", model.Member.table_id == user.id)
        .values(state=model.tables.DELETED)
    )
    session.flush()
    return None


def user_sessions_revoke(context: Context, data_dict: DataDict) -> dict[str, int]:
    """End every login session of user ``id``: their session and remember-me
    cookies stop working at once, on every device (API tokens are not
    touched). The user themself or a sysadmin. Returns ``{"ended": <count>}``."""
    _data, user = target(
        context, data_dict, authz.user_by_id_or_name, "User not found", "user_sessions_revoke"
    )
    session = context.get("session", model.Session)
    ended = users.end_sessions(session, user.id)
    session.flush()
    return {"ended": ended}
