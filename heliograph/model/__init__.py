"""SQLAlchemy models, the session and migrations.

``Session`` is a scoped session bound by :func:`init_engine`; the web layer
removes it at the end of every request.
"""

from __future__ import annotations

from heliograph.model import revision
from heliograph.model.meta import Base, Session, engine_for, init_engine, new_id, utcnow
from heliograph.model.tables import (
    ApiToken,
    DatasetRevision,
    EventDelivery,
    EventOutbox,
    Group,
    Member,
    Package,
    PackageExtra,
    PackageTag,
    Resource,
    Tag,
    User,
    UserSession,
)

__all__ = [
    "ApiToken",
    "Base",
    "DatasetRevision",
    "EventDelivery",
    "EventOutbox",
    "Group",
    "Member",
    "Package",
    "PackageExtra",
    "PackageTag",
    "Resource",
    "Session",
    "Tag",
    "User",
    "UserSession",
    "engine_for",
    "init_engine",
    "new_id",
    "revision",
    "utcnow",
]
