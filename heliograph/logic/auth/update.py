"""Auth functions of the update actions."""

from __future__ import annotations

import typing as t

from heliograph.logic import Context, DataDict, auth_allow_anonymous_access
from heliograph.logic.auth import (
    current_user,
    group_admin,
    may_update_package,
    ok,
    refuse,
    resource_object,
    who,
)

Result = dict[str, t.Any]


@auth_allow_anonymous_access
def package_update(context: Context, data_dict: DataDict) -> Result:
    """Editors and admins of the dataset's organization (sysadmins always);
    a dataset without an organization follows the creation rules."""
    return may_update_package(context, data_dict)


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
