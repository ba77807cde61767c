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
)
from heliograph.logic import auth as authz
from heliograph.logic.action.create import (
    NOT_RESOURCE_KEYS,
    _unwrap_resource_errors,
    active_resource,
    require,
    stage_upload,
)
from heliograph.logic.dictization import package_dictize
from heliograph.logic.model_save import package_save
from heliograph.logic.schema import validate_package
from heliograph.logic.validation import require_mapping

__all__ = ["package_patch", "package_update", "resource_update"]


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
        raise _unwrap_resource_errors(exc, index) from None
    if staged is not None:
        uploads.place(staged, resource_id)
    elif cleared and was_upload:
        uploads.remove_after_commit(context.get("session", model.Session), resource_id)
    for item in updated["resources"]:
        if item["id"] == resource_id:
            return t.cast(dict[str, t.Any], item)
    raise ObjectNotFound("Resource was not found.")  # pragma: no cover - saved above
