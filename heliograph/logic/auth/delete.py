"""Auth functions of the delete actions (callers must be logged in)."""

from __future__ import annotations

import typing as t

from heliograph.logic import Context, DataDict
from heliograph.logic.auth import (
    current_user,
    group_admin,
    may_change_package,
    ok,
    package_object,
    refuse,
    resource_object,
    who,
)

__all__ = [
    "api_token_revoke",
    "group_delete",
    "organization_delete",
    "package_delete",
    "resource_delete",
    "user_delete",
    "user_sessions_revoke",
]

Result = dict[str, t.Any]


def package_delete(context: Context, data_dict: DataDict) -> Result:
    """Editors and admins of the dataset's organization (sysadmins always)."""
    package = package_object(context, data_dict)
    if not may_change_package(context, package, "delete_dataset"):
        return refuse(f"User {who(context)} not authorized to delete package {package.id}")
    return ok()


def resource_delete(context: Context, data_dict: DataDict) -> Result:
    """As ``package_delete`` on the resource's dataset."""
    resource = resource_object(context, data_dict)
    if not package_delete(context, {"id": resource.package_id}).get("success"):
        return refuse(f"User {who(context)} not authorized to delete resource {resource.id}")
    return ok()


def api_token_revoke(context: Context, data_dict: DataDict) -> Result:
    """Only your own tokens (sysadmins anyone's)."""
    caller = current_user(context)
    if caller is not None and data_dict.get("user_id") == caller.id:
        return ok()
    return refuse(f"User {who(context)} not authorized to revoke this API token")


def group_delete(context: Context, data_dict: DataDict) -> Result:
    """Admins of the group or organization."""
    return group_admin(context, data_dict, "delete", "delete")


organization_delete = group_delete


def user_delete(context: Context, data_dict: DataDict) -> Result:
    """Sysadmins only (they pass before this runs)."""
    return refuse(f"User {who(context)} not authorized to delete users")


def user_sessions_revoke(context: Context, data_dict: DataDict) -> Result:
    """The user themself (sysadmins pass earlier)."""
    caller = current_user(context)
    if caller is not None and data_dict.get("id") == caller.id:
        return ok()
    return refuse(f"User {who(context)} not authorized to end the sessions of this user")
