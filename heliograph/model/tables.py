"""The portal's tables, shaped after CKAN's."""

from __future__ import annotations

import datetime as dt
import typing as t

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heliograph.model.meta import Base, new_id, utcnow

ACTIVE = "active"
DELETED = "deleted"


class User(Base):
    __tablename__ = "user"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    fullname: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str] = mapped_column(String(254))
    password: Mapped[str | None] = mapped_column(Text)
    about: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_active: Mapped[dt.datetime | None] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    sysadmin: Mapped[bool] = mapped_column(Boolean, default=False)
    reset_key_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 (hex) of the pending password-reset key; None when there is none."""
    reset_key_expires: Mapped[dt.datetime | None] = mapped_column(DateTime)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all")

    @property
    def session_ref(self) -> str | None:
        """The reference of the login session this object was loaded or logged
        in with (``heliograph.web.accounts``); not stored."""
        return t.cast("str | None", self.__dict__.get("_heliograph_session_ref"))

    @session_ref.setter
    def session_ref(self, value: str | None) -> None:
        self.__dict__["_heliograph_session_ref"] = value

    @property
    def display_name(self) -> str:
        return self.fullname or self.name

    # What Flask-Login asks of a user object (the web layer logs model users in).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.state == ACTIVE

    def get_id(self) -> str:
        """What Flask-Login keeps in the session cookie (and the remember-me
        cookie): the reference of the login session this object was loaded or
        logged in with, a :class:`UserSession` row checked on every request."""
        if not self.session_ref:
            raise LookupError(f"user {self.name!r} has no login session (accounts.open_session)")
        return self.session_ref


# One account per e-mail address, whatever its case, among the users not deleted
# (what the ``user_email_unique`` validator checks; the database decides races).
Index(
    "uq_user_email",
    func.lower(User.email),
    unique=True,
    sqlite_where=text("state != 'deleted'"),
    postgresql_where=text("state != 'deleted'"),
)


class UserSession(Base):
    """A login session: what a session or remember-me cookie refers to. Logging
    out deletes it; changing the password or ending a user's sessions deletes
    all of theirs, and a cookie naming a deleted or expired row logs nobody in."""

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the secret the cookie holds; the secret is not stored."""
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires: Mapped[dt.datetime] = mapped_column(DateTime)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_access: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship(back_populates="tokens")


class Group(Base):
    """Groups and organizations (``is_organization``), as in CKAN."""

    __tablename__ = "group"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(100), default="group")
    is_organization: Mapped[bool] = mapped_column(Boolean, default=False)
    approval_status: Mapped[str] = mapped_column(String(20), default="approved")
    state: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Member(Base):
    """Membership of a user (with a capacity) or a package in a group."""

    __tablename__ = "member"
    __table_args__ = (
        UniqueConstraint("group_id", "table_name", "table_id"),
        Index("ix_member_table", "table_name", "table_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    group_id: Mapped[str] = mapped_column(ForeignKey("group.id", ondelete="CASCADE"))
    table_name: Mapped[str] = mapped_column(String(20))
    table_id: Mapped[str] = mapped_column(String(36))
    capacity: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), default=ACTIVE)


class Package(Base):
    __tablename__ = "package"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(100), default="dataset")
    state: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_org: Mapped[str | None] = mapped_column(ForeignKey("group.id"), index=True)
    creator_user_id: Mapped[str | None] = mapped_column(String(36))
    metadata_created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    metadata_modified: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    notes: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(100))
    author: Mapped[str | None] = mapped_column(Text)
    author_email: Mapped[str | None] = mapped_column(Text)
    maintainer: Mapped[str | None] = mapped_column(Text)
    maintainer_email: Mapped[str | None] = mapped_column(Text)
    license_id: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Group | None] = relationship(foreign_keys=[owner_org])
    resources: Mapped[list[Resource]] = relationship(
        back_populates="package", order_by="Resource.position", cascade="all, delete-orphan"
    )
    package_tags: Mapped[list[PackageTag]] = relationship(cascade="all, delete-orphan")
    extras: Mapped[list[PackageExtra]] = relationship(cascade="all, delete-orphan")


class Tag(Base):
    __tablename__ = "tag"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class PackageTag(Base):
    __tablename__ = "package_tag"
    __table_args__ = (UniqueConstraint("package_id", "tag_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(ForeignKey("package.id", ondelete="CASCADE"))
    tag_id: Mapped[str] = mapped_column(ForeignKey("tag.id"), index=True)

    tag: Mapped[Tag] = relationship()


class PackageExtra(Base):
    __tablename__ = "package_extra"
    __table_args__ = (UniqueConstraint("package_id", "key"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(ForeignKey("package.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[str | None] = mapped_column(Text)


class Resource(Base):
    __tablename__ = "resource"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(
        ForeignKey("package.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text, default="")
    name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    format: Mapped[str | None] = mapped_column(Text)
    mimetype: Mapped[str | None] = mapped_column(Text)
    size: Mapped[int | None] = mapped_column(Integer)
    hash: Mapped[str | None] = mapped_column(Text)
    url_type: Mapped[str | None] = mapped_column(String(50))
    position: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_modified: Mapped[dt.datetime | None] = mapped_column(DateTime)
    metadata_modified: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    extras: Mapped[str | None] = mapped_column(Text)
    """JSON object of the resource's extra keys."""

    package: Mapped[Package] = relationship(back_populates="resources")


_BigId = BigInteger().with_variant(Integer, "sqlite")


class EventOutbox(Base):
    """An event for background receivers, written in the sender's transaction.

    Shaped after Debezium's outbox: the row id is the commit order within
    this database, ``key`` the ordering key (the object the event is about).
    ``relayed`` is true once the event needs no relay (embedded delivery) or
    the relay has published it to the broker.
    """

    __tablename__ = "event_outbox"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    signal: Mapped[str] = mapped_column(String(200))
    sender: Mapped[str] = mapped_column(Text)
    """JSON."""
    key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    """JSON object: the keyword arguments' wire form (jobs: args and kwargs)."""
    receivers: Mapped[str] = mapped_column(Text)
    """JSON list of the dotted paths of the receivers the event is for."""
    sent_at: Mapped[float] = mapped_column(Float)
    relayed: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_event_outbox_relayed_id", "relayed", "id"),)


class EventDelivery(Base):
    """One receiver's delivery of one event (or one background job).

    ``state`` is ``pending`` (waiting for ``next_attempt_at``), ``running``
    (leased by a worker until ``lease_until``) or ``dead`` (gave up after the
    last attempt; kept with ``last_error`` until retried or discarded). A
    delivery that succeeded is deleted. Within one ``(receiver, lane)`` a
    delivery is claimed only when every earlier one is dead or claimed with
    it, and they are delivered in ``id`` order: that is the order per object.
    """

    __tablename__ = "event_delivery"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    event_pk: Mapped[int] = mapped_column(
        ForeignKey("event_outbox.id", ondelete="CASCADE"), index=True
    )
    receiver: Mapped[str] = mapped_column(String(300))
    owner: Mapped[str | None] = mapped_column(String(100))
    lane: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="signal")
    queue: Mapped[str] = mapped_column(String(100), default="default")
    title: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    lease_until: Mapped[float | None] = mapped_column(Float)
    leased_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("event_pk", "receiver", name="uq_event_delivery_event_receiver"),
        Index("ix_event_delivery_lane", "receiver", "lane", "id"),
        Index("ix_event_delivery_state_next", "state", "next_attempt_at"),
    )


class DatasetRevision(Base):
    """One row whose ``token`` changes in every transaction that writes what a
    dataset's document shows (:mod:`heliograph.model.revision`); read caches
    hold what they built under the token they read first."""

    __tablename__ = "dataset_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(32))
