"""Auth functions of the update actions."""

from __future__ import annotations

import typing as t

from sqlalchemy import select

from heliograph import model
from heliograph.logic import Context, DataDict, ObjectNotFound, auth_allow_anonymous_access
from heliograph.logic.auth import (
    current_user,
    group_by_id_or_name,
    has_permission,
    ok,
    package_by_id_or_name,
    refuse,
    resource_by_id,
)
from heliograph.logic.settings import config

__all__ = [
    "group_patch",
    "group_update",
    "organization_patch",
    "organization_update",
    "package_patch",
    "package_update",
    "resource_patch",
    "resource_update",
    "user_patch",
    "user_update",
]

Result = dict[str, t.Any]


def who(context: Context) -> str:
    return str(context.get("user") or "")


def unowned_rule(context: Context) -> bool:
    """Whether the configuration lets the caller create (and so edit)
    datasets that belong to no organization."""
    rules = ["create_dataset_if_not_in_organization", "create_unowned_dataset"]
    if current_user(context) is None:
        rules.append("anon_create_dataset")
    return all(config.auth(rule) for rule in rules)


def check_group_auth(
    context: Context, data_dict: DataDict, package: model.Package | None = None
) -> bool:
    """The caller may add the dataset to each group ``data_dict['groups']``
    names that it is not in yet (``manage_group`` there). An unknown group
    raises ObjectNotFound."""
    blobs = data_dict.get("groups")
    if not isinstance(blobs, list):
        return True
    session = context.get("session", model.Session)
    current: set[str] = set()
    if package is not None:
        current = set(
            session.scalars(
                select(model.Member.group_id).where(
                    model.Member.table_name == "package",
                    model.Member.table_id == package.id,
                    model.Member.state == model.tables.ACTIVE,
                )
            ).all()
        )
    for blob in blobs:
        ref = (blob.get("id") or blob.get("name")) if isinstance(blob, dict) else blob
        if not ref or not isinstance(ref, str):
            continue
        group = group_by_id_or_name(context, ref)
        if group is None:
            raise ObjectNotFound("Group was not found.")
        if group.id not in current and not has_permission(context, group.id, "manage_group"):
            return False
    return True


def may_change_package(context: Context, package: model.Package, permission: str) -> bool:
    """``permission`` in the dataset's organization; for a dataset without
    one, the rules for creating unowned datasets."""
    if package.owner_org:
        return has_permission(context, package.owner_org, permission)
    return unowned_rule(context)


def package_object(context: Context, data_dict: DataDict) -> model.Package:
    package = package_by_id_or_name(context, data_dict.get("id") or data_dict.get("name"))
    if package is None:
        raise ObjectNotFound("Package was not found.")
    return package


def resource_object(context: Context, data_dict: DataDict) -> model.Resource:
    resource = resource_by_id(context, data_dict.get("id"))
    if resource is None:
        raise ObjectNotFound("Resource was not found.")
    return resource


@auth_allow_anonymous_access
def package_update(context: Context, data_dict: DataDict) -> Result:
    """Editors and admins of the dataset's organization (sysadmins always);
    a dataset without an organization follows the creation rules."""
    package = package_object(context, data_dict)
    if not may_change_package(context, package, "update_dataset"):
        return refuse(f"User {who(context)} not authorized to edit package {package.id}")
    if not check_group_auth(context, data_dict, package):
        return refuse(f"User {who(context)} not authorized to edit these groups")
    return ok()


def package_patch(context: Context, data_dict: DataDict) -> Result:
    """As ``package_update``; the caller must be logged in."""
    return package_update(context, data_dict)


def resource_update(context: Context, data_dict: DataDict) -> Result:
    """As ``package_update`` on the resource's dataset (logged in)."""
    resource = resource_object(context, data_dict)
    outcome = package_update(context, {"id": resource.package_id})
    if not outcome.get("success"):
        return refuse(f"User {who(context)} not authorized to edit resource {resource.id}")
    return ok()


def resource_patch(context: Context, data_dict: DataDict) -> Result:
    """As ``resource_update``."""
    return resource_update(context, data_dict)


def group_admin(context: Context, data_dict: DataDict, permission: str, what: str) -> Result:
    """Admins of the group or organization ``id`` (and sysadmins, earlier)."""
    group = group_by_id_or_name(context, data_dict.get("id"))
    if group is None:
        raise ObjectNotFound("Group was not found.")
    if has_permission(context, group.id, permission):
        return ok()
    return refuse(f"User {who(context)} not authorized to {what} group {group.id}")


def group_update(context: Context, data_dict: DataDict) -> Result:
    """Admins of the group or organization."""
    return group_admin(context, data_dict, "update", "edit")


organization_update = group_patch = organization_patch = group_update


def user_update(context: Context, data_dict: DataDict) -> Result:
    """The user themself (sysadmins pass earlier)."""
    caller = current_user(context)
    if caller is not None and data_dict.get("id") == caller.id:
        return ok()
    return refuse(f"User {who(context)} not authorized to edit user {data_dict.get('id')}")


def user_patch(context: Context, data_dict: DataDict) -> Result:
    """As ``user_update``."""
    return user_update(context, data_dict)
