"""Auth functions, one per action, grouped by verb as in CKAN.

An auth function takes ``(context, data_dict)`` and returns
``{'success': bool, 'msg': str}``. The helpers here answer the questions
they all ask: who is calling, and what role they hold in an organization.
"""

from __future__ import annotations

import typing as t

from sqlalchemy import select

from heliograph import model
from heliograph.logic import AuthFunction, Context

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
    labels = user_labels(context)
    return labels is None or any(label in labels for label in dataset_labels(package))


def ok() -> dict[str, t.Any]:
    return {"success": True}


def refuse(msg: str) -> dict[str, t.Any]:
    return {"success": False, "msg": msg}


def collect() -> dict[str, AuthFunction]:
    """The core auth functions by action name."""
    from heliograph.logic.auth import catalog, create, delete, get, jobs, update

    found: dict[str, AuthFunction] = {}
    for module in (get, create, update, delete, jobs, catalog):
        for name in getattr(module, "__all__", ()):
            found[name] = getattr(module, name)
    return found
