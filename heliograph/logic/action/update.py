"""Update actions."""

from __future__ import annotations

import typing as t

from sqlalchemy.exc import IntegrityError

from heliograph import model
from heliograph.logic import (
    Context,
    DataDict,
    ObjectNotFound,
    ValidationError,
    check_access,
    get_action,
    uploads,
    users,
)
from heliograph.logic import auth as authz
from heliograph.logic.action import (
    NOT_RESOURCE_KEYS,
    active_resource,
    require,
    stage_upload,
    target,
    unwrap_resource_errors,
)
from heliograph.logic.dictization import package_dictize
from heliograph.logic.model_save import lock_package, package_save
from heliograph.logic.schema import (
    group_schema,
    user_conflict,
    user_update_schema,
    validate_package,
)
from heliograph.logic.validation import require_mapping, validate_or_raise

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


def package_update(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Replace dataset ``id`` (or ``name``) with ``data_dict``.

    Fields left out keep their value; tags, extras, groups and resources
    left out are removed. ``id`` and ``type`` cannot change. Returns the
    dataset as ``package_show`` would.
    """
    data_dict = require_mapping(data_dict)
    ref = data_dict.get("id") or data_dict.get("name")
    if ref is None or ref == "":
        raise ValidationError({"id": "Missing value"})
    if not isinstance(ref, str):
        raise ValidationError({"id": ["Must be a string"]})
    package = authz.package_by_id_or_name(context, ref)
    if package is None:
        raise ObjectNotFound("Package was not found.")
    check_access("package_update", context, {**data_dict, "id": package.id})
    lock_package(context.get("session", model.Session), package.id)
    clean, errors = validate_package(data_dict, context, package=package)
    if errors:
        raise ValidationError(errors)
    try:
        package_save(context.get("session", model.Session), clean, package=package)
    except IntegrityError:
        raise ValidationError({"name": ["That URL is already in use."]}) from None
    return package_dictize(package, context)


def package_patch(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Change only the given fields of dataset ``id``: ``package_show``,
    overlay ``data_dict``, then ``package_update``."""
    data_dict = require_mapping(data_dict)
    (ref,) = require(data_dict, "id")
    check_access("package_patch", context, data_dict)
    package = authz.package_by_id_or_name(context, ref)
    if package is not None:
        lock_package(context.get("session", model.Session), package.id)
    show_context = {
        "session": context.get("session", model.Session),
        "user": context.get("user"),
        "ignore_auth": context.get("ignore_auth", False),
        "for_update": True,
    }
    if "auth_user_obj" in context:
        show_context["auth_user_obj"] = context["auth_user_obj"]
    package_dict = get_action("package_show")(show_context, {"id": ref})
    patched = {**package_dict, **data_dict, "id": package_dict["id"]}
    return t.cast(dict[str, t.Any], get_action("package_update")(context, patched))


def resource_update(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Replace resource ``id`` with ``data_dict`` (through ``package_update``);
    fields and extras left out are cleared. A file in ``upload`` replaces the
    resource's file (once the change is committed); ``clear_upload`` (true)
    makes it a plain resource again (its URL the given one, if any) and
    deletes its file."""
    data_dict = require_mapping(data_dict)
    (resource_id,) = require(data_dict, "id")
    resource = active_resource(context, resource_id)
    check_access("resource_update", context, data_dict)
    lock_package(context.get("session", model.Session), resource.package_id)
    package_dict = get_action("package_show")(dict(context), {"id": resource.package_id})
    resources = list(package_dict.get("resources") or [])
    positions = [i for i, item in enumerate(resources) if item["id"] == resource_id]
    if not positions:
        raise ObjectNotFound("Resource was not found.")
    index = positions[0]
    was_upload, old_url = resource.url_type == "upload", resource.url or ""
    new = {key: value for key, value in data_dict.items() if key not in NOT_RESOURCE_KEYS}
    new["id"] = resource_id
    staged = stage_upload(context, data_dict, new)
    cleared = staged is None and uploads.is_true(data_dict.get("clear_upload"))
    if cleared:
        new["url_type"] = None
        new.pop("size", None)
        new.pop("mimetype", None)
        url = str(new.get("url") or "")
        if url == resources[index].get("url") or url == old_url:
            new["url"] = ""
    resources[index] = new
    package_dict["resources"] = resources
    try:
        updated = get_action("package_update")(context, package_dict)
    except ValidationError as exc:
        raise unwrap_resource_errors(exc, index) from None
    if staged is not None:
        uploads.place(staged, resource_id)
    elif cleared and was_upload:
        uploads.remove_after_commit(context.get("session", model.Session), resource_id)
    for item in updated["resources"]:
        if item["id"] == resource_id:
            return t.cast(dict[str, t.Any], item)
    raise ObjectNotFound("Resource was not found.")  # pragma: no cover - saved above


def resource_patch(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Change only the given fields of resource ``id``: ``resource_show``,
    overlay ``data_dict``, then ``resource_update``."""
    data_dict = require_mapping(data_dict)
    (resource_id,) = require(data_dict, "id")
    check_access("resource_patch", context, data_dict)
    shown = get_action("resource_show")(dict(context), {"id": resource_id})
    patched = {**shown, **data_dict, "id": shown["id"]}
    return t.cast(dict[str, t.Any], get_action("resource_update")(context, patched))


# -- groups and organizations ---------------------------------------------------------------

GROUP_FIELDS = ("name", "title", "description", "image_url", "approval_status")


def group_of_kind(context: Context, ref: t.Any, organization: bool) -> model.Group:
    """The active or deleted group (or organization) ``ref``; ObjectNotFound
    for an unknown one or one of the other kind."""
    group = authz.group_by_id_or_name(context, ref)
    if group is None or bool(group.is_organization) != organization:
        kind = "Organization" if organization else "Group"
        raise ObjectNotFound(f"{kind} was not found.")
    return group


def _group_update(context: Context, data_dict: DataDict, organization: bool) -> dict[str, t.Any]:
    data_dict = require_mapping(data_dict)
    kind = "organization" if organization else "group"
    (ref,) = require(data_dict, "id")
    group = group_of_kind(context, ref, organization)
    check_access(f"{kind}_update", context, {**data_dict, "id": group.id})
    fields = {key: value for key, value in data_dict.items() if key not in ("id", "users")}
    fields.setdefault("name", group.name)
    schema = {key: rules for key, rules in group_schema().items() if key not in ("id", "users")}
    clean = validate_or_raise(fields, schema, context, group=group)
    if "type" in clean and clean["type"] != group.type:
        raise ValidationError({"type": ["The type cannot be changed"]})
    for key in GROUP_FIELDS:
        if key in clean:
            setattr(group, key, clean[key])
    if clean.get("state"):
        group.state = clean["state"]
    try:
        context.get("session", model.Session).flush()
    except IntegrityError:
        raise ValidationError({"name": ["Group name already exists in database"]}) from None
    return t.cast(dict[str, t.Any], get_action(f"{kind}_show")(dict(context), {"id": group.id}))


def group_update(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Change group ``id``: ``name``, ``title``, ``description``, ``image_url``
    (fields left out keep their value; the type cannot change). Group admins
    and sysadmins. Returns the group as ``group_show`` gives it."""
    return _group_update(context, data_dict, organization=False)


def organization_update(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Change organization ``id`` as ``group_update`` changes a group.
    Organization admins and sysadmins."""
    return _group_update(context, data_dict, organization=True)


def group_patch(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Change only the given fields of group ``id`` (through ``group_update``)."""
    return t.cast(dict[str, t.Any], get_action("group_update")(context, data_dict))


def organization_patch(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Change only the given fields of organization ``id`` (through
    ``organization_update``)."""
    return t.cast(dict[str, t.Any], get_action("organization_update")(context, data_dict))


# -- users -------------------------------------------------------------------------------

USER_FIELDS = ("name", "email", "fullname", "about", "image_url", "sysadmin")


def user_patch(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Change only the given fields of user ``id`` (through ``user_update``,
    which keeps the fields left out)."""
    data_dict, _user = target(
        context, data_dict, authz.user_by_id_or_name, "User not found", "user_patch"
    )
    return t.cast(dict[str, t.Any], get_action("user_update")(context, {**data_dict}))


def user_update(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """Change user ``id``: ``name``, ``email``, ``fullname``, ``about``,
    ``image_url``, ``password`` (fields left out keep their value; ``sysadmin``
    only by sysadmins). The user themself or a sysadmin; changing your own
    password needs ``old_password``. Returns the user as ``user_show`` gives it.
    """
    data_dict, user = target(
        context, data_dict, authz.user_by_id_or_name, "User not found", "user_update"
    )
    fields = {key: value for key, value in data_dict.items() if key in user_update_schema()}
    clean = validate_or_raise(fields, user_update_schema(), context, user=user)
    if "password" in clean:
        caller = authz.current_user(context)
        privileged = context.get("ignore_auth") or authz.is_sysadmin(context)
        if caller is not None and caller.id == user.id and not privileged:
            refusal = users.current_password_refusal(user, data_dict.get("old_password"))
            if refusal is not None:
                raise ValidationError({"old_password": [refusal]})
        users.set_password(user, clean["password"])
    for key in USER_FIELDS:
        if key in clean:
            setattr(user, key, clean[key])
    try:
        context.get("session", model.Session).flush()
    except IntegrityError as exc:
        raise ValidationError(user_conflict(exc, clean.get("email"))) from None
    return t.cast(dict[str, t.Any], get_action("user_show")(dict(context), {"id": user.id}))
