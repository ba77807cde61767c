"""Delete actions. Datasets and resources are deleted softly (``state``)."""

from __future__ import annotations

import typing as t

from sqlalchemy import delete

from heliograph import logic, model
from heliograph.logic import Context, DataDict, ObjectNotFound, check_access, get_action
from heliograph.logic import auth as authz
from heliograph.logic.action.create import active_resource, require
from heliograph.logic.validation import require_mapping

__all__ = ["api_token_revoke", "package_delete", "resource_delete"]


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


def api_token_revoke(context: Context, data_dict: DataDict) -> None:
    """Revoke an API token, named by the secret itself (``token``) or by its id
    (``jti``, as ``api_token_list`` shows it). It stops working at once: the
    row is deleted, and every request looks its token up."""
    from heliograph.logic import tokens

    data_dict = require_mapping(data_dict)
    token, jti = data_dict.get("token"), data_dict.get("jti")
    if isinstance(token, str) and token:
        jti = tokens.token_id(token.strip())
    if not isinstance(jti, str) or not jti:
        raise logic.ValidationError({"token": ["Either token or jti is required"]})
    session = context.get("session", model.Session)
    row = session.get(model.ApiToken, jti)
    if row is None:
        raise ObjectNotFound("API token not found")
    check_access("api_token_revoke", context, {**data_dict, "jti": jti, "user_id": row.user_id})
    session.execute(delete(model.ApiToken).where(model.ApiToken.id == jti))
