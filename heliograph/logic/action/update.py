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
)
from heliograph.logic import auth as authz
from heliograph.logic.action.create import _unwrap_resource_errors, active_resource, require
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
    fields and extras left out are cleared."""
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
    resources[index] = {**data_dict, "id": resource_id}
    package_dict["resources"] = resources
    try:
        updated = get_action("package_update")(context, package_dict)
    except ValidationError as exc:
        raise _unwrap_resource_errors(exc, index) from None
    for item in updated["resources"]:
        if item["id"] == resource_id:
            return t.cast(dict[str, t.Any], item)
    raise ObjectNotFound("Resource was not found.")  # pragma: no cover - saved above
