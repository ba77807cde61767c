"""Delete actions. Datasets and resources are deleted softly (``state``)."""

from __future__ import annotations

import typing as t

from sqlalchemy import delete

from heliograph import model
from heliograph.logic import Context, DataDict, ObjectNotFound, check_access, get_action
from heliograph.logic import auth as authz
from heliograph.logic.action.create import active_resource, require
from heliograph.logic.validation import require_mapping

__all__ = ["package_delete", "resource_delete"]


def package_delete(context: Context, data_dict: DataDict) -> None:
    """Mark dataset ``id`` deleted and take it out of its groups. Returns None.

    A later ``package_create`` may reuse its name (the deleted row is then
    renamed to its id).
    """
    data_dict = require_mapping(data_dict)
    (ref,) = require(data_dict, "id")
    package = authz.package_by_id_or_name(context, ref)
    if package is None:
        raise ObjectNotFound("Package was not found.")
    check_access("package_delete", context, {**data_dict, "id": package.id})
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
    package_dict: dict[str, t.Any] = get_action("package_show")(
        dict(context), {"id": resource.package_id}
    )
    package_dict["resources"] = [
        item for item in package_dict.get("resources") or [] if item["id"] != resource_id
    ]
    get_action("package_update")(context, package_dict)
    return None
