"""Auth functions of the create actions."""

from __future__ import annotations

import typing as t

from heliograph.config import config
from heliograph.logic import Context, DataDict, ObjectNotFound, auth_allow_anonymous_access
from heliograph.logic.auth import (
    check_group_auth,
    current_user,
    group_by_id_or_name,
    has_permission,
    may_update_package,
    ok,
    organizations_with,
    package_by_id_or_name,
    refuse,
    user_by_id_or_name,
    who,
)

Result = dict[str, t.Any]


@auth_allow_anonymous_access
def package_create(context: Context, data_dict: DataDict) -> Result:
    """CKAN's defaults: anonymous callers never; logged-in users when they are
    editor or admin of some organization, and of ``owner_org`` when given."""
    if current_user(context) is None:
        allowed = all(
            config.auth(rule)
            for rule in (
                "anon_create_dataset",
                "create_dataset_if_not_in_organization",
                "create_unowned_dataset",
            )
        )
    else:
        allowed = all(
            config.auth(rule)
            for rule in ("create_dataset_if_not_in_organization", "create_unowned_dataset")
        ) or bool(organizations_with(context, "create_dataset"))
    if not allowed:
        return refuse(f"User {who(context)} not authorized to create packages")
    if not check_group_auth(context, data_dict):
        return refuse(f"User {who(context)} not authorized to edit these groups")
    org_ref = data_dict.get("owner_org")
    if org_ref and isinstance(org_ref, str):
        org = group_by_id_or_name(context, org_ref)
        if org is None or not has_permission(context, org.id, "create_dataset"):
            return refuse(f"User {who(context)} not authorized to add dataset to this organization")
    return ok()


def resource_create(context: Context, data_dict: DataDict) -> Result:
    """As ``package_update`` on the parent dataset (logged in)."""
    package_ref = data_dict.get("package_id")
    if not package_ref:
        raise ObjectNotFound("No dataset id provided, cannot check auth.")
    package = package_by_id_or_name(context, package_ref)
    if package is None:
        raise ObjectNotFound("No package found for this resource, cannot check auth.")
    if not may_update_package(context, {"id": package.id}).get("success"):
        return refuse(
            f"User {who(context)} not authorized to create resources on dataset {package_ref}"
        )
    return ok()


def organization_create(context: Context, data_dict: DataDict) -> Result:
    """Logged-in users, when ``user_create_organizations`` is on."""
    if current_user(context) is not None and config.auth("user_create_organizations"):
        return ok()
    return refuse(f"User {who(context)} not authorized to create organizations")


def group_create(context: Context, data_dict: DataDict) -> Result:
    """Logged-in users, when ``user_create_groups`` is on."""
    if current_user(context) is not None and config.auth("user_create_groups"):
        return ok()
    return refuse(f"User {who(context)} not authorized to create groups")


def member_create(context: Context, data_dict: DataDict) -> Result:
    """Admins of the organization or group; in a group, any member may add
    datasets (``manage_group``)."""
    group = group_by_id_or_name(context, data_dict.get("id"))
    if group is None:
        raise ObjectNotFound("Group was not found.")
    permission = "update"
    if not group.is_organization and data_dict.get("object_type") == "package":
        permission = "manage_group"
    if has_permission(context, group.id, permission):
        return ok()
    return refuse(f"User {who(context)} not authorized to edit group {group.id}")


def group_member_create(context: Context, data_dict: DataDict) -> Result:
    """Admins of the group or organization (``membership``)."""
    group = group_by_id_or_name(context, data_dict.get("id"))
    if group is None:
        raise ObjectNotFound("Group was not found.")
    if has_permission(context, group.id, "membership"):
        return ok()
    return refuse(f"User {who(context)} not authorized to edit the members of group {group.id}")


organization_member_create = group_member_create


@auth_allow_anonymous_access
def user_create(context: Context, data_dict: DataDict) -> Result:
    """Over the API (``context['api_version']`` set) only when
    ``create_user_via_api`` is on; otherwise when ``create_user_via_web`` is.
    Sysadmins always (check_access lets them through first)."""
    if "api_version" in context:
        if not config.auth("create_user_via_api"):
            return refuse(f"User {who(context)} not authorized to create users via the API")
        return ok()
    if not config.auth("create_user_via_web"):
        return refuse("Not authorized to create users")
    return ok()


def api_token_create(context: Context, data_dict: DataDict) -> Result:
    """Only for yourself (sysadmins for anyone)."""
    target = user_by_id_or_name(context, data_dict.get("user"))
    caller = current_user(context)
    if target is not None and caller is not None and target.id == caller.id:
        return ok()
    return refuse(f"User {who(context)} not authorized to create API tokens for this user")
