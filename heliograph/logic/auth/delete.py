"""Auth functions of the delete actions (callers must be logged in)."""

from __future__ import annotations

import typing as t

from heliograph.config import config
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
from heliograph.logic.auth.create import group_member_create, member_create

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
    """Admins of the group, when ``user_delete_groups`` is on (sysadmins always)."""
    if not config.auth("user_delete_groups"):
        return refuse(f"User {who(context)} not authorized to delete groups")
    return group_admin(context, data_dict, "delete", "delete")


def organization_delete(context: Context, data_dict: DataDict) -> Result:
    """Admins of the organization, when ``user_delete_organizations`` is on
    (sysadmins always)."""
    if not config.auth("user_delete_organizations"):
        return refuse(f"User {who(context)} not authorized to delete organizations")
    return group_admin(context, data_dict, "delete", "delete")


def member_delete(context: Context, data_dict: DataDict) -> Result:
    """As ``member_create``."""
    return member_create(context, data_dict)


def group_member_delete(context: Context, data_dict: DataDict) -> Result:
    """As ``group_member_create``: admins of the group or organization."""
    return group_member_create(context, data_dict)


organization_member_delete = group_member_delete


def user_delete(context: Context, data_dict: DataDict) -> Result:
    """Sysadmins only (they pass before this runs)."""
    return refuse(f"User {who(context)} not authorized to delete users")


def user_sessions_revoke(context: Context, data_dict: DataDict) -> Result:
    """The user themself (sysadmins pass earlier)."""
    caller = current_user(context)
    if caller is not None and data_dict.get("id") == caller.id:
        return ok()
    return refuse(f"User {who(context)} not authorized to end the sessions of this user")
