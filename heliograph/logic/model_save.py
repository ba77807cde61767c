"""Validated dicts to model rows: the write half of dictization.

``package_update`` follows CKAN: a dataset field the dict leaves out keeps
its stored value, while the lists - tags, extras, groups and resources -
are replaced, so a list left out is emptied. A resource dict replaces the
stored resource entirely (fields and extras left out are cleared), as
CKAN's ``resource_update`` warns.
"""

from __future__ import annotations

import json
import typing as t

from sqlalchemy import select, update

from heliograph import model
from heliograph.logic.schema import (
    PACKAGE_TEXT_FIELDS,
    RESOURCE_COLUMNS,
    RESOURCE_EXTRA_CORE,
    RESOURCE_KEPT,
)


def lock_package(session: t.Any, package_id: str) -> None:
    """Hold dataset ``package_id`` for this transaction, then read it afresh.

    A change that reads a dataset and writes it back (``package_patch``, the
    resource actions, ``package_update``) calls this before it reads, so two
    such changes run one after the other and neither writes back what the
    other replaced. PostgreSQL locks the row (``SELECT ... FOR UPDATE``);
    SQLite has one writer at a time, so a no-op write takes its write lock,
    held until the commit. The dataset rows the session had loaded (datasets,
    resources, extras, tags, memberships) are expired, so they are read again
    under the lock; users, organizations and groups are left as they are.
    """
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(model.Package.id).where(model.Package.id == package_id).with_for_update()
        )
    else:
        session.execute(
            update(model.Package)
            .where(model.Package.id == package_id)
            .values(state=model.Package.state)
            .execution_options(synchronize_session=False)
        )
    for obj in list(session.identity_map.values()):
        if isinstance(obj, _DATASET_ROWS):
            session.expire(obj)


_DATASET_ROWS = (model.Package, model.Resource, model.PackageExtra, model.PackageTag, model.Member)


def package_save(
    session: t.Any,
    clean: dict[str, t.Any],
    *,
    package: model.Package | None = None,
    creator_user_id: str | None = None,
) -> model.Package:
    """Create (``package`` None) or replace a dataset from validated values."""
    now = model.utcnow()
    if package is None:
        _free_name_of_deleted(session, clean["name"])
        package = model.Package(
            id=clean.get("id") or model.new_id(),
            type=clean.get("type") or "dataset",
            creator_user_id=creator_user_id,
            metadata_created=now,
            state=clean.get("state") or model.tables.ACTIVE,
            private=bool(clean.get("private", False)),
            name=clean["name"],
        )
        session.add(package)
    elif "name" in clean and clean["name"] != package.name:
        _free_name_of_deleted(session, clean["name"], keep=package.id)
    for field in ("name", "title", "owner_org", "state", "private", *PACKAGE_TEXT_FIELDS):
        if field in clean:
            setattr(package, field, clean[field])
    package.metadata_modified = now
    session.flush()
    _save_tags(session, package, clean.get("tags") or [])
    _save_extras(package, clean.get("extras") or [])
    _save_groups(session, package, clean.get("groups") or [])
    _save_resources(session, package, clean.get("resources") or [], now)
    session.flush()
    return package


def _free_name_of_deleted(session: t.Any, name: str, keep: str | None = None) -> None:
    """A deleted dataset gives up its name: it is renamed to its id."""
    for old in session.scalars(
        select(model.Package).where(
            model.Package.name == name, model.Package.state == model.tables.DELETED
        )
    ):
        if old.id != keep:
            old.name = old.id
    session.flush()


def _save_tags(session: t.Any, package: model.Package, names: list[str]) -> None:
    wanted = list(dict.fromkeys(names))
    kept = []
    for package_tag in list(package.package_tags):
        if package_tag.tag.name in wanted:
            kept.append(package_tag.tag.name)
        else:
            package.package_tags.remove(package_tag)
    for name in wanted:
        if name in kept:
            continue
        tag = session.scalar(select(model.Tag).where(model.Tag.name == name))
        if tag is None:
            tag = model.Tag(name=name)
            session.add(tag)
            session.flush()
        package.package_tags.append(model.PackageTag(package_id=package.id, tag_id=tag.id, tag=tag))


def _save_extras(package: model.Package, extras: list[dict[str, t.Any]]) -> None:
    wanted = {item["key"]: item["value"] for item in extras}
    for extra in list(package.extras):
        if extra.key in wanted:
            extra.value = wanted.pop(extra.key)
        else:
            package.extras.remove(extra)
    for key, value in wanted.items():
        package.extras.append(model.PackageExtra(package_id=package.id, key=key, value=value))


def _save_groups(session: t.Any, package: model.Package, refs: list[str]) -> None:
    """The dataset's groups (not organizations) become exactly ``refs``;
    unknown groups are skipped, as CKAN does (auth already refused them)."""
    wanted: dict[str, model.Group] = {}
    for ref in refs:
        group = session.get(model.Group, ref) or session.scalar(
            select(model.Group).where(model.Group.name == ref)
        )
        if group is not None and not group.is_organization:
            wanted[group.id] = group
    members = session.scalars(
        select(model.Member).where(
            model.Member.table_name == "package", model.Member.table_id == package.id
        )
    ).all()
    for member in members:
        group = session.get(model.Group, member.group_id)
        if group is None or group.is_organization:
            continue
        if member.group_id in wanted:
            member.state = model.tables.ACTIVE
            del wanted[member.group_id]
        else:
            session.delete(member)
    for group_id in wanted:
        session.add(
            model.Member(
                group_id=group_id, table_name="package", table_id=package.id, capacity="public"
            )
        )


def _with_kept_fields(resource: model.Resource, clean: dict[str, t.Any]) -> dict[str, t.Any]:
    """``clean`` with the stored value of each RESOURCE_KEPT field it leaves out."""
    missing = [key for key in RESOURCE_KEPT if key not in clean]
    if not missing or not resource.extras:
        return clean
    try:
        stored = json.loads(resource.extras)
    except ValueError:
        return clean
    if not isinstance(stored, dict):
        return clean
    return {**clean, **{key: stored[key] for key in missing if key in stored}}


def _resource_values(clean: dict[str, t.Any]) -> dict[str, t.Any]:
    values = {column: clean.get(column) for column in RESOURCE_COLUMNS}
    values["url"] = values["url"] or ""
    if values["url_type"] == "upload" and values["url"]:
        values["url"] = values["url"].rsplit("/", 1)[-1]
    extras = dict(clean.get("__extras") or {})
    for key in RESOURCE_EXTRA_CORE:
        if clean.get(key) is not None:
            value = clean[key]
            extras[key] = value.isoformat() if hasattr(value, "isoformat") else value
    values["extras"] = json.dumps(extras, sort_keys=True) if extras else None
    return values


def _save_resources(
    session: t.Any, package: model.Package, resources: list[dict[str, t.Any]], now: t.Any
) -> None:
    existing = {r.id: r for r in package.resources if r.state == model.tables.ACTIVE}
    seen: set[str] = set()
    for position, clean in enumerate(resources):
        resource = existing.get(clean.get("id") or "")
        if resource is not None and resource.id not in seen:
            clean = _with_kept_fields(resource, clean)
        values = _resource_values(clean)
        if resource is None or resource.id in seen:
            resource = model.Resource(
                id=model.new_id(),
                package_id=package.id,
                created=now,
                metadata_modified=now,
                state=model.tables.ACTIVE,
                **values,
            )
            package.resources.append(resource)
        elif any(getattr(resource, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(resource, key, value)
            resource.metadata_modified = now
        resource.position = position
        seen.add(resource.id)
    for resource_id, resource in existing.items():
        if resource_id not in seen:
            resource.state = model.tables.DELETED
            resource.metadata_modified = now
