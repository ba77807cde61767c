"""Auth functions, one per action, grouped by verb as in CKAN.

An auth function takes ``(context, data_dict)`` and returns
``{'success': bool, 'msg': str}``. The helpers here answer the questions
they all ask: who is calling, and what role they hold in an organization.
"""

from __future__ import annotations

import inspect
import typing as t

from sqlalchemy import select

from heliograph import model
from heliograph.config import config
from heliograph.logic import AuthFunction, Context, DataDict, ObjectNotFound

ROLES = ("admin", "editor", "member")
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "read",
            "create_dataset",
            "update_dataset",
            "delete_dataset",
            "manage_group",
            "update",
            "delete",
            "membership",
        }
    ),
    "editor": frozenset(
        {"read", "create_dataset", "update_dataset", "delete_dataset", "manage_group"}
    ),
    "member": frozenset({"read", "manage_group"}),
}


def current_user(context: Context) -> model.User | None:
    """The calling user (``context['user']`` is a name), or None when anonymous.

    The lookup is cached in ``context['auth_user_obj']``.
    """
    cached = context.get("auth_user_obj")
    if isinstance(cached, model.User):
        return cached
    name = context.get("user")
    if not name:
        return None
    session = context.get("session", model.Session)
    user = session.scalar(select(model.User).where(model.User.name == name))
    if user is not None:
        context["auth_user_obj"] = user
    return t.cast("model.User | None", user)


def is_sysadmin(context: Context) -> bool:
    user = current_user(context)
    return bool(user is not None and user.sysadmin and user.state == "active")


def capacity_in(context: Context, group_id: str | None) -> str | None:
    """The caller's role in the group or organization, or None."""
    user = current_user(context)
    if user is None or not group_id:
        return None
    session = context.get("session", model.Session)
    return t.cast(
        "str | None",
        session.scalar(
            select(model.Member.capacity).where(
                model.Member.group_id == group_id,
                model.Member.table_name == "user",
                model.Member.table_id == user.id,
                model.Member.state == "active",
            )
        ),
    )


def has_permission(context: Context, group_id: str | None, permission: str) -> bool:
    if is_sysadmin(context):
        return True
    capacity = capacity_in(context, group_id)
    return capacity is not None and permission in PERMISSIONS.get(capacity, frozenset())


def organizations_with(context: Context, permission: str) -> list[str]:
    """Ids of the organizations where the caller holds ``permission``."""
    user = current_user(context)
    if user is None:
        return []
    session = context.get("session", model.Session)
    rows = session.execute(
        select(model.Member.group_id, model.Member.capacity)
        .join(model.Group, model.Group.id == model.Member.group_id)
        .where(
            model.Member.table_name == "user",
            model.Member.table_id == user.id,
            model.Member.state == "active",
            model.Group.is_organization.is_(True),
            model.Group.state == "active",
        )
    ).all()
    return [gid for gid, cap in rows if permission in PERMISSIONS.get(cap, frozenset())]


_Row = t.TypeVar("_Row", model.Group, model.Package, model.User)


def _valid_ref(ref: t.Any) -> t.TypeGuard[str]:
    return isinstance(ref, str) and bool(ref) and "\x00" not in ref


def _by_id_or_name(context: Context, cls: type[_Row], ref: t.Any) -> _Row | None:
    """The ``cls`` row whose id (first) or name is ``ref``, or None."""
    if not _valid_ref(ref):
        return None
    session = context.get("session", model.Session)
    row = session.get(cls, ref)
    if row is None:
        row = session.scalar(select(cls).where(cls.name == ref))
    return t.cast("_Row | None", row)


def group_by_id_or_name(context: Context, ref: t.Any) -> model.Group | None:
    """The group or organization whose id or name is ``ref``, or None."""
    return _by_id_or_name(context, model.Group, ref)


def package_by_id_or_name(context: Context, ref: t.Any) -> model.Package | None:
    """The dataset whose id or name is ``ref``, or None."""
    return _by_id_or_name(context, model.Package, ref)


def resource_by_id(context: Context, ref: t.Any) -> model.Resource | None:
    """The resource whose id is ``ref`` (any state), or None."""
    if not _valid_ref(ref):
        return None
    session = context.get("session", model.Session)
    return t.cast("model.Resource | None", session.get(model.Resource, ref))


def user_by_id_or_name(context: Context, ref: t.Any) -> model.User | None:
    """The user whose id or name is ``ref``, or None."""
    return _by_id_or_name(context, model.User, ref)


# -- permission labels (CKAN's default IPermissionLabels) ----------------------


def dataset_labels(package: model.Package) -> list[str]:
    """``public`` for an active public dataset; otherwise ``member-<org id>``,
    or ``creator-<user id>`` for a dataset without an organization."""
    return _labels(package.state, package.private, package.owner_org, package.creator_user_id)


def dataset_dict_labels(package: t.Mapping[str, t.Any]) -> list[str]:
    """:func:`dataset_labels` of a dataset as ``package_show`` returns it."""
    return _labels(
        package.get("state"),
        package.get("private"),
        package.get("owner_org"),
        package.get("creator_user_id"),
    )


def _labels(state: t.Any, private: t.Any, owner_org: t.Any, creator: t.Any) -> list[str]:
    if state == "active" and not private:
        return ["public"]
    if owner_org:
        return [f"member-{owner_org}"]
    return [f"creator-{creator}"]


def user_labels(context: Context) -> set[str] | None:
    """The caller's labels; None for a sysadmin (or with ``ignore_auth``),
    who sees every dataset."""
    if context.get("ignore_auth") or is_sysadmin(context):
        return None
    labels = {"public"}
    user = current_user(context)
    if user is not None and user.state == "active":
        labels.add(f"creator-{user.id}")
        labels.update(f"member-{org_id}" for org_id in organizations_with(context, "read"))
    return labels


def can_read_package(context: Context, package: model.Package) -> bool:
    return can_read_labels(context, dataset_labels(package))


def can_read_labels(context: Context, dataset: t.Iterable[str]) -> bool:
    """Whether the caller's labels meet a dataset's ``dataset`` labels."""
    if "public" in dataset:
        return True  # every caller holds it (a sysadmin sees everything anyway)
    labels = user_labels(context)
    return labels is None or any(label in labels for label in dataset)


KNOWN_LABELS = "heliograph_known_dataset_labels"
"""Context key under which ``package_show`` hands its auth function the
permission labels of the dataset it read from the cache: ``(id, labels)``."""


def known_dataset_labels(context: Context, ref: t.Any) -> tuple[str, ...] | None:
    """The labels ``package_show`` handed over for dataset ``ref``, if any."""
    known = context.get(KNOWN_LABELS)
    if known is not None and known[0] == ref:
        return t.cast("tuple[str, ...]", known[1])
    return None


def ok() -> dict[str, t.Any]:
    return {"success": True}


def refuse(msg: str) -> dict[str, t.Any]:
    return {"success": False, "msg": msg}


# -- helpers the verb modules share ------------------------------------------


def who(context: Context) -> str:
    return str(context.get("user") or "")


def unowned_rule(context: Context) -> bool:
    """Whether the configuration lets the caller create (and so edit)
    datasets that belong to no organization."""
    rules = ["create_dataset_if_not_in_organization", "create_unowned_dataset"]
    if current_user(context) is None:
        rules.append("anon_create_dataset")
    return all(config.auth(rule) for rule in rules)


def check_group_auth(
    context: Context, data_dict: DataDict, package: model.Package | None = None
) -> bool:
    """The caller may add the dataset to each group ``data_dict['groups']``
    names that it is not in yet (``manage_group`` there). An unknown group
    raises ObjectNotFound."""
    blobs = data_dict.get("groups")
    if not isinstance(blobs, list):
        return True
    session = context.get("session", model.Session)
    current: set[str] = set()
    if package is not None:
        current = set(
            session.scalars(
                select(model.Member.group_id).where(
                    model.Member.table_name == "package",
                    model.Member.table_id == package.id,
                    model.Member.state == model.tables.ACTIVE,
                )
            ).all()
        )
    for blob in blobs:
        ref = (blob.get("id") or blob.get("name")) if isinstance(blob, dict) else blob
        if not ref or not isinstance(ref, str):
            continue
        group = group_by_id_or_name(context, ref)
        if group is None:
            raise ObjectNotFound("Group was not found.")
        if group.id not in current and not has_permission(context, group.id, "manage_group"):
            return False
    return True


def may_change_package(context: Context, package: model.Package, permission: str) -> bool:
    """``permission`` in the dataset's organization; for a dataset without
    one, the rules for creating unowned datasets."""
    if package.owner_org:
        return has_permission(context, package.owner_org, permission)
    return unowned_rule(context)


def package_object(context: Context, data_dict: DataDict) -> model.Package:
    package = package_by_id_or_name(context, data_dict.get("id") or data_dict.get("name"))
    if package is None:
        raise ObjectNotFound("Package was not found.")
    return package


def resource_object(context: Context, data_dict: DataDict) -> model.Resource:
    resource = resource_by_id(context, data_dict.get("id"))
    if resource is None:
        raise ObjectNotFound("Resource was not found.")
    return resource


def group_admin(
    context: Context, data_dict: DataDict, permission: str, what: str
) -> dict[str, t.Any]:
    """Admins of the group or organization ``id`` (and sysadmins, earlier)."""
    group = group_by_id_or_name(context, data_dict.get("id"))
    if group is None:
        raise ObjectNotFound("Group was not found.")
    if has_permission(context, group.id, permission):
        return ok()
    return refuse(f"User {who(context)} not authorized to {what} group {group.id}")


def may_update_package(context: Context, data_dict: DataDict) -> dict[str, t.Any]:
    """``package_update``'s verdict: editors and admins of the dataset's
    organization; a dataset without one follows the creation rules (so an
    anonymous caller is refused at once unless those rules let anonymous
    callers create datasets)."""
    if current_user(context) is None and not unowned_rule(context):
        ref = data_dict.get("id") or data_dict.get("name")
        return refuse(f"User {who(context)} not authorized to edit package {ref}")
    package = package_object(context, data_dict)
    if not may_change_package(context, package, "update_dataset"):
        return refuse(f"User {who(context)} not authorized to edit package {package.id}")
    if not check_group_auth(context, data_dict, package):
        return refuse(f"User {who(context)} not authorized to edit these groups")
    return ok()


def collect() -> dict[str, AuthFunction]:
    """The core auth functions by action name: every public function defined in
    a verb module (``get``, ``create``, ``update``, ``delete``, ``jobs``) is the
    auth function of the action of its name; shared helpers live here."""
    from heliograph.logic.auth import catalog, create, delete, get, jobs, update

    found: dict[str, AuthFunction] = {}
    for module in (get, create, update, delete, jobs, catalog):
        for name, value in vars(module).items():
            if (
                inspect.isfunction(value)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[name] = value
    return found
