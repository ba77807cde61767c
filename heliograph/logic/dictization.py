"""Model objects to the dicts the actions return, in CKAN's shapes.

Timestamps are naive UTC in ISO format (``2024-05-01T12:00:00.123456``).
Nothing here checks permissions: callers decide what may be shown, and say
so with the ``include_*`` arguments.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import typing as t
import urllib.parse

import sqlalchemy as sa
from sqlalchemy import func, select

from heliograph import model
from heliograph.config import config
from heliograph.logic import Context

LICENSES: dict[str, tuple[str, str, bool]] = {
    "notspecified": ("License not specified", "", False),
    "odc-pddl": (
        "Open Data Commons Public Domain Dedication and License (PDDL)",
        "http://www.opendefinition.org/licenses/odc-pddl",
        True,
    ),
    "odc-odbl": (
        "Open Data Commons Open Database License (ODbL)",
        "http://www.opendefinition.org/licenses/odc-odbl",
        True,
    ),
    "odc-by": (
        "Open Data Commons Attribution License",
        "http://www.opendefinition.org/licenses/odc-by",
        True,
    ),
    "cc-zero": (
        "Creative Commons CCZero",
        "http://www.opendefinition.org/licenses/cc-zero",
        True,
    ),
    "cc-by": (
        "Creative Commons Attribution",
        "http://www.opendefinition.org/licenses/cc-by",
        True,
    ),
    "cc-by-sa": (
        "Creative Commons Attribution Share-Alike",
        "http://www.opendefinition.org/licenses/cc-by-sa",
        True,
    ),
    "gfdl": (
        "GNU Free Documentation License",
        "http://www.opendefinition.org/licenses/gfdl",
        True,
    ),
    "other-open": ("Other (Open)", "", True),
    "other-pd": ("Other (Public Domain)", "", True),
    "other-at": ("Other (Attribution)", "", True),
    "uk-ogl": (
        "UK Open Government Licence (OGL)",
        "http://reference.data.gov.uk/id/open-government-licence",
        True,
    ),
    "cc-nc": (
        "Creative Commons Non-Commercial (Any)",
        "http://creativecommons.org/licenses/by-nc/2.0/",
        False,
    ),
    "other-nc": ("Other (Non-Commercial)", "", False),
    "other-closed": ("Other (Not Open)", "", False),
}


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def site_url() -> str:
    return str(config.get("heliograph.site_url") or "").rstrip("/")


# -- datasets -------------------------------------------------------------------


def package_groups(session: t.Any, package_ids: t.Sequence[str]) -> dict[str, list[model.Group]]:
    """The active groups (not organizations) of each dataset of
    ``package_ids``, by name, in one query."""
    found: dict[str, list[model.Group]] = {package_id: [] for package_id in package_ids}
    if not package_ids:
        return found
    rows = session.execute(
        select(model.Member.table_id, model.Group)
        .join(model.Member, model.Member.group_id == model.Group.id)
        .where(
            model.Member.table_name == "package",
            model.Member.table_id.in_(list(package_ids)),
            model.Member.state == model.tables.ACTIVE,
            model.Group.is_organization.is_(False),
            model.Group.state == model.tables.ACTIVE,
        )
        .order_by(model.Group.name)
    ).all()
    for package_id, group in rows:
        found[package_id].append(group)
    return found


def package_dictize(
    package: model.Package, context: Context, groups: list[model.Group] | None = None
) -> dict[str, t.Any]:
    """The dataset as ``package_show`` returns it (``groups``: its groups, when
    the caller loaded them already with :func:`package_groups`)."""
    session = context.get("session", model.Session)
    resources = [r for r in package.resources if r.state == model.tables.ACTIVE]
    if "package_tags" in sa.inspect(package).unloaded:
        tags = list(
            session.scalars(
                select(model.Tag)
                .join(model.PackageTag, model.PackageTag.tag_id == model.Tag.id)
                .where(model.PackageTag.package_id == package.id)
            )
        )  # one query rather than one per tag
    else:
        tags = [pt.tag for pt in package.package_tags]
    tags.sort(key=lambda tag: tag.name)
    extras = sorted(package.extras, key=lambda extra: extra.key)
    if groups is None:
        groups = package_groups(session, [package.id])[package.id]
    license_title, license_url, isopen = LICENSES.get(
        package.license_id or "", (package.license_id, "", False)
    )
    result: dict[str, t.Any] = {
        "id": package.id,
        "name": package.name,
        "title": package.title,
        "type": package.type,
        "state": package.state,
        "private": bool(package.private),
        "owner_org": package.owner_org,
        "organization": group_row_dict(package.organization) if package.organization else None,
        "creator_user_id": package.creator_user_id,
        "metadata_created": iso(package.metadata_created),
        "metadata_modified": iso(package.metadata_modified),
        "notes": package.notes,
        "url": package.url,
        "version": package.version,
        "author": package.author,
        "author_email": package.author_email,
        "maintainer": package.maintainer,
        "maintainer_email": package.maintainer_email,
        "license_id": package.license_id,
        "license_title": license_title,
        "isopen": isopen,
        "num_resources": len(resources),
        "num_tags": len(tags),
        "resources": [resource_dictize(r) for r in resources],
        "tags": [
            {
                "id": tag.id,
                "name": tag.name,
                "display_name": tag.name,
                "state": "active",
                "vocabulary_id": None,
            }
            for tag in tags
        ],
        "groups": [
            {
                "id": group.id,
                "name": group.name,
                "title": group.title,
                "display_name": group.title or group.name,
                "description": group.description or "",
                "image_display_url": image_display_url(group.image_url),
            }
            for group in groups
        ],
        "extras": [{"key": extra.key, "value": extra.value} for extra in extras],
        "relationships_as_subject": [],
        "relationships_as_object": [],
    }
    if license_url:
        result["license_url"] = license_url
    return result


def resource_extras(resource: model.Resource) -> dict[str, t.Any]:
    if not resource.extras:
        return {}
    try:
        extras = json.loads(resource.extras)
    except ValueError:
        return {}
    return extras if isinstance(extras, dict) else {}


def resource_dictize(resource: model.Resource) -> dict[str, t.Any]:
    """The resource as ``resource_show`` returns it; extras merged at the top."""
    extras = resource_extras(resource)
    url = resource.url or ""
    if resource.url_type == "upload" and url:
        filename = urllib.parse.quote(url.rsplit("/", 1)[-1])
        url = (
            f"{site_url()}/dataset/{resource.package_id}/resource/{resource.id}/download/{filename}"
        )
    elif url and not urllib.parse.urlparse(url).scheme and not resource.url_type:
        url = "http://" + url.lstrip("/")
    result: dict[str, t.Any] = {
        "id": resource.id,
        "package_id": resource.package_id,
        "url": url,
        "name": resource.name,
        "description": resource.description,
        "format": resource.format,
        "mimetype": resource.mimetype,
        "mimetype_inner": None,
        "hash": resource.hash,
        "size": resource.size,
        "resource_type": None,
        "url_type": resource.url_type,
        "cache_url": None,
        "cache_last_updated": None,
        "created": iso(resource.created),
        "last_modified": iso(resource.last_modified),
        "metadata_modified": iso(resource.metadata_modified),
        "state": resource.state,
        "position": resource.position,
        "datastore_active": False,
    }
    for key, value in extras.items():
        if key not in ("id", "package_id", "state", "position", "created"):
            result[key] = value
    return result


# -- groups and organizations -------------------------------------------------------


def image_display_url(image_url: str | None) -> str:
    if not image_url:
        return ""
    if urllib.parse.urlparse(image_url).scheme:
        return image_url
    return f"{site_url()}/uploads/group/{image_url}"


def group_row_dict(group: model.Group) -> dict[str, t.Any]:
    """The plain row of a group or organization (a dataset's ``organization``)."""
    return {
        "id": group.id,
        "name": group.name,
        "title": group.title,
        "type": group.type,
        "description": group.description or "",
        "image_url": group.image_url or "",
        "created": iso(group.created),
        "is_organization": bool(group.is_organization),
        "approval_status": group.approval_status,
        "state": group.state,
    }


def group_dictize(
    group: model.Group,
    context: Context,
    *,
    package_count: int,
    users: list[dict[str, t.Any]] | None = None,
    packages: list[dict[str, t.Any]] | None = None,
    member_count: int | None = None,
    include_extras: bool = True,
    include_groups: bool = True,
    include_tags: bool = True,
    include_followers: bool = True,
) -> dict[str, t.Any]:
    result = group_row_dict(group)
    result["display_name"] = group.title or group.name
    result["image_display_url"] = image_display_url(group.image_url)
    result["package_count"] = package_count
    if include_followers:
        result["num_followers"] = 0
    if include_extras:
        result["extras"] = []
    if include_tags:
        result["tags"] = []
    if include_groups:
        result["groups"] = []
    if users is not None:
        result["users"] = users
    if packages is not None:
        result["packages"] = packages
    if member_count is not None:
        result["member_count"] = member_count
    return result


def member_dictize(member: model.Member) -> dict[str, t.Any]:
    return {
        "id": member.id,
        "table_name": member.table_name,
        "table_id": member.table_id,
        "capacity": member.capacity,
        "group_id": member.group_id,
        "state": member.state,
    }


# -- users ----------------------------------------------------------------------------


def email_hash(email: str | None) -> str:
    return hashlib.md5(
        (email or "").strip().lower().encode("utf-8"), usedforsecurity=False
    ).hexdigest()


def user_dictize(
    user: model.User,
    context: Context,
    *,
    include_email: bool = False,
    include_password_hash: bool = False,
    number_created_packages: int | None = None,
) -> dict[str, t.Any]:
    """The user as ``user_show`` returns it. The password hash is left out
    unless ``include_password_hash`` (sysadmins only) asks for it."""
    session = context.get("session", model.Session)
    if number_created_packages is None:
        number_created_packages = int(
            session.scalar(
                select(func.count(model.Package.id)).where(
                    model.Package.creator_user_id == user.id,
                    model.Package.state == model.tables.ACTIVE,
                    model.Package.private.is_(False),
                )
            )
            or 0
        )
    result: dict[str, t.Any] = {
        "id": user.id,
        "name": user.name,
        "fullname": user.fullname,
        "display_name": user.display_name,
        "about": user.about,
        "created": iso(user.created),
        "last_active": iso(user.last_active),
        "state": user.state,
        "sysadmin": bool(user.sysadmin),
        "image_url": user.image_url or "",
        "image_display_url": user.image_url or "",
        "email_hash": email_hash(user.email),
        "number_created_packages": number_created_packages,
        "activity_streams_email_notifications": False,
    }
    if include_email:
        result["email"] = user.email
        result["apikey"] = None
    if include_password_hash:
        result["password_hash"] = user.password
    return result
