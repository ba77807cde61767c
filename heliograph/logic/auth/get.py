"""Auth functions of the read actions: anonymous callers are welcome."""

from __future__ import annotations

import typing as t

from heliograph import model
from heliograph.config import config
from heliograph.logic import Context, DataDict, ObjectNotFound, auth_allow_anonymous_access
from heliograph.logic.auth import (
    can_read_labels,
    can_read_package,
    current_user,
    group_by_id_or_name,
    has_permission,
    known_dataset_labels,
    ok,
    package_by_id_or_name,
    refuse,
    resource_object,
    who,
)

Result = dict[str, t.Any]


@auth_allow_anonymous_access
def site_read(context: Context, data_dict: DataDict) -> Result:
    return ok()


@auth_allow_anonymous_access
def help_show(context: Context, data_dict: DataDict) -> Result:
    return ok()


@auth_allow_anonymous_access
def license_list(context: Context, data_dict: DataDict) -> Result:
    return ok()


@auth_allow_anonymous_access
def status_show(context: Context, data_dict: DataDict) -> Result:
    return ok()


@auth_allow_anonymous_access
def package_list(context: Context, data_dict: DataDict) -> Result:
    return ok()


@auth_allow_anonymous_access
def package_search(context: Context, data_dict: DataDict) -> Result:
    """Anyone may search; the results are filtered by permission labels."""
    return ok()


@auth_allow_anonymous_access
def package_show(context: Context, data_dict: DataDict) -> Result:
    """Readable when the caller's permission labels meet the dataset's: an
    active public dataset is readable by all; a private, draft or deleted one
    by members (any role) of its organization, or by its creator when it has
    no organization."""
    ref = data_dict.get("id") or data_dict.get("name_or_id")
    labels = known_dataset_labels(context, ref)
    if labels is not None:
        if can_read_labels(context, labels):
            return ok()
        return refuse(f"User {who(context)} not authorized to read package {ref}")
    package = package_by_id_or_name(context, ref)
    if package is None:
        raise ObjectNotFound()
    if can_read_package(context, package):
        return ok()
    return refuse(f"User {who(context)} not authorized to read package {package.id}")


@auth_allow_anonymous_access
def resource_show(context: Context, data_dict: DataDict) -> Result:
    """As ``package_show`` on the resource's dataset."""
    resource = resource_object(context, data_dict)
    package = package_by_id_or_name(context, resource.package_id)
    if package is not None and can_read_package(context, package):
        return ok()
    return refuse(f"User {who(context)} not authorized to read resource {resource.id}")


@auth_allow_anonymous_access
def group_show(context: Context, data_dict: DataDict) -> Result:
    """Active groups are public; a deleted one is visible to its members."""
    group = group_by_id_or_name(context, data_dict.get("id"))
    if group is None:
        raise ObjectNotFound()
    if group.state == model.tables.ACTIVE:
        if (
            not config.auth("public_user_details")
            and data_dict.get("include_users")
            and not has_permission(context, group.id, "read")
        ):
            return refuse(f"User {who(context)} not authorized to read group {group.id}")
        return ok()
    if has_permission(context, group.id, "read"):
        return ok()
    return refuse(f"User {who(context)} not authorized to read group {group.id}")


@auth_allow_anonymous_access
def organization_show(context: Context, data_dict: DataDict) -> Result:
    return group_show(context, data_dict)


@auth_allow_anonymous_access
def group_list(context: Context, data_dict: DataDict) -> Result:
    return ok()


@auth_allow_anonymous_access
def organization_list(context: Context, data_dict: DataDict) -> Result:
    return ok()


@auth_allow_anonymous_access
def member_list(context: Context, data_dict: DataDict) -> Result:
    """As ``group_show``."""
    return group_show(context, data_dict)


@auth_allow_anonymous_access
def member_roles_list(context: Context, data_dict: DataDict) -> Result:
    return ok()


@auth_allow_anonymous_access
def organization_list_for_user(context: Context, data_dict: DataDict) -> Result:
    return ok()


@auth_allow_anonymous_access
def user_show(context: Context, data_dict: DataDict) -> Result:
    """Anyone, when ``public_user_details`` is on; else logged-in users."""
    if config.auth("public_user_details") or current_user(context) is not None:
        return ok()
    return refuse("You must be logged in to view user details")


def api_token_list(context: Context, data_dict: DataDict) -> Result:
    """Only your own tokens (sysadmins anyone's)."""
    caller = current_user(context)
    if caller is not None and data_dict.get("user_id") == caller.id:
        return ok()
    return refuse(f"User {who(context)} not authorized to list this user's API tokens")


@auth_allow_anonymous_access
def user_list(context: Context, data_dict: DataDict) -> Result:
    return user_show(context, data_dict)
