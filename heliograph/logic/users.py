"""Creating users and checking their passwords.

:func:`create_user` is the one place a user row is made - by the
``user_create`` action, the command line and the web sign-up alike - so the
``user_created`` signal is sent from exactly here, once, after the row is
stored (flushed: a failed insert sends nothing). As in CKAN, it is sent
before the caller's commit, so receivers may use the same session. Passwords
are hashed with Argon2 (``argon2-cffi``); the hash never leaves this module
in an action's result.
"""

from __future__ import annotations

import collections.abc as c
import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
import threading
import typing as t
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import object_session

from heliograph import model
from heliograph.config import config
from heliograph.lib import mailer, signals

log = logging.getLogger(__name__)

_hasher = PasswordHasher()


# -- bounded Argon2 work ----------------------------------------------------------


class PasswordChecksBusy(Exception):
    """No Argon2 slot came free within the time the caller would wait."""


def _default_slots() -> int:
    return max(1, (os.cpu_count() or 2) // 2)


_slots = threading.BoundedSemaphore(_default_slots())
_holding = threading.local()


def set_password_checks(count: int) -> None:
    """Let ``count`` Argon2 hashes or checks run at once (0: half the
    processor cores, at least one). Each costs tens of megabytes and a core
    for a quarter of a second, so the rest wait their turn instead of
    starving every other request of processor time."""
    global _slots
    _slots = threading.BoundedSemaphore(count or _default_slots())


@contextlib.contextmanager
def password_check_slot(timeout: float | None = None) -> c.Iterator[None]:
    """Hold one Argon2 slot for the block (the one already held by this thread,
    if any); wait at most ``timeout`` seconds for it (None: as long as it
    takes), else raise :class:`PasswordChecksBusy`."""
    if getattr(_holding, "slot", False):
        yield
        return
    slots = _slots
    if not slots.acquire(timeout=timeout):
        raise PasswordChecksBusy()
    _holding.slot = True
    try:
        yield
    finally:
        _holding.slot = False
        slots.release()


def hash_password(password: str) -> str:
    with password_check_slot():
        return _hasher.hash(password)


def check_password(user: model.User, password: str) -> bool:
    """True when ``password`` is the user's password. Rehashes (in the
    session, uncommitted) when the stored hash uses outdated parameters.

    A user without a password still costs one Argon2 verification, so that
    the time taken does not tell which accounts exist."""
    if not user.password or not isinstance(password, str):
        burn_time(password)
        return False
    try:
        with password_check_slot():
            _hasher.verify(user.password, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password):
        user.password = hash_password(password)
    return True


class PasswordThrottle(t.Protocol):
    """Counts wrong passwords per login (the web layer's failed-login limits)."""

    def retry_after(self, login: str) -> int | None: ...

    def failed(self, login: str) -> None: ...


def _no_throttle() -> PasswordThrottle | None:
    return None


_throttle_of: c.Callable[[], PasswordThrottle | None] = _no_throttle

TOO_MANY_WRONG = "Too many wrong passwords: try again in {seconds} seconds."


def set_password_throttle(finder: c.Callable[[], PasswordThrottle | None]) -> None:
    """Let ``finder()`` give the throttle that counts wrong current passwords
    (None: none counts them, as outside a web request)."""
    global _throttle_of
    _throttle_of = finder


def current_password_refusal(
    user: model.User, password: object, wrong: str = "Old password is incorrect"
) -> str | None:
    """Why ``password`` is not taken as ``user``'s current password (None: it
    is). A wrong one counts as a failed login of that user, so guessing it
    (with a stolen API token, or at an unlocked screen) meets the same limits
    as guessing at the login form, and is refused, unchecked, past them."""
    throttle = _throttle_of()
    # Limit, check and count in one Argon2 slot, as the login form does.
    with password_check_slot():
        if throttle is not None:
            wait = throttle.retry_after(user.name)
            if wait is not None:
                return TOO_MANY_WRONG.format(seconds=wait)
        if check_password(user, t.cast(str, password)):  # not a str: False, in as long
            return None
        if throttle is not None:
            throttle.failed(user.name)
    return wrong


_DUMMY_HASH: str | None = None


def burn_time(password: object) -> None:
    """One Argon2 verification against a throwaway hash: what a failed login
    for an unknown user costs, so it answers no faster than a wrong password."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("heliograph-no-such-user")
    with (
        password_check_slot(),
        contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError),
    ):
        _hasher.verify(_DUMMY_HASH, password if isinstance(password, str) else "")


def create_user(
    session: t.Any,
    *,
    name: str,
    email: str,
    password: str | None,
    fullname: str | None = None,
    about: str | None = None,
    image_url: str | None = None,
    sysadmin: bool = False,
    state: str = model.tables.ACTIVE,
) -> model.User:
    """Add a user to ``session`` and flush it; the caller commits.

    The arguments are taken as valid (the action validates them first).
    ``password`` is hashed here; None makes an account that cannot log in
    with a password. Sends ``user_created(name, user=<the row>)`` once the
    row is flushed.
    """
    user = model.User(
        name=name,
        email=email,
        password=hash_password(password) if password is not None else None,
        fullname=fullname,
        about=about,
        image_url=image_url,
        sysadmin=sysadmin,
        state=state,
        created=model.utcnow(),
    )
    session.add(user)
    session.flush()
    signals.user_created.send(user.name, user=user)
    return user


# -- logging in -----------------------------------------------------------------


def user_for_login(session: t.Any, login: str) -> model.User | None:
    """The active user whose name or e-mail is ``login`` (names first), or None."""
    if not login:
        return None
    by_name = session.scalar(
        select(model.User).where(model.User.name == login, model.User.state == model.tables.ACTIVE)
    )
    if by_name is not None:
        return t.cast(model.User, by_name)
    found = session.scalars(
        select(model.User).where(
            func.lower(model.User.email) == login.strip().lower(),
            model.User.state == model.tables.ACTIVE,
        )
    ).all()
    return t.cast(model.User, found[0]) if len(found) == 1 else None


def authenticate(session: t.Any, login: str, password: str) -> model.User | None:
    """The user when ``login`` (name or e-mail) and ``password`` match, else None.

    Unknown and known logins cost the same Argon2 verification; a hash made
    with outdated parameters is replaced (in the session, uncommitted)."""
    user = user_for_login(session, login)
    if user is None:
        burn_time(password)
        return None
    return user if check_password(user, password) else None


def set_password(user: model.User, password: str) -> None:
    """Store a new password (hashed); any pending reset key stops working and
    every login session of the user ends (in the user's session, uncommitted)."""
    user.password = hash_password(password)
    user.reset_key_hash = None
    user.reset_key_expires = None
    end_sessions(object_session(user) or model.Session(), user.id)


def end_sessions(session: t.Any, user_id: str) -> int:
    """Delete every login session of user ``user_id`` (session and remember-me
    cookies naming them log nobody in any more); returns how many there were.
    API tokens are not touched. The caller commits."""
    result = session.execute(delete(model.UserSession).where(model.UserSession.user_id == user_id))
    return int(result.rowcount or 0)


# -- password reset keys --------------------------------------------------------

RESET_KEY_BYTES = 32


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_reset_key(user: model.User, ttl_minutes: int) -> str:
    """A fresh random reset key for ``user`` (replacing any earlier one),
    valid for ``ttl_minutes``. Only its hash is stored; the key is returned
    once, for the mail."""
    key = secrets.token_urlsafe(RESET_KEY_BYTES)
    user.reset_key_hash = _key_hash(key)
    user.reset_key_expires = model.utcnow() + dt.timedelta(minutes=ttl_minutes)
    return key


def reset_key_valid(user: model.User | None, key: str | None) -> bool:
    """True when ``key`` is the user's pending, unexpired reset key.
    Compared in constant time."""
    if user is None or not key or not isinstance(key, str) or len(key) > 512:
        return False
    stored = user.reset_key_hash
    expires = user.reset_key_expires
    if not stored or expires is None:
        return False
    matches = hmac.compare_digest(stored, _key_hash(key))
    return matches and model.utcnow() < expires


# -- the reset mail ---------------------------------------------------------------

RESET_PATH = "/user/reset/{user_id}?key={key}"
"""Where a reset link leads, below ``heliograph.site_url`` (the web layer's route)."""
RESET_MAIL_RETRY = (60.0, 300.0, 1800.0)
"""Seconds between the attempts at a reset mail the mail server refused."""
LONGEST_LOGIN = 320
"""No name (100) or e-mail address (254) is longer: a longer login matches nobody."""


def mail_reset_link(login: str) -> None:
    """For the active account whose name or e-mail is ``login``: a new reset
    key (replacing any earlier one), mailed as a link to the account's
    address, then ``request_password_reset(name, user=...)``. Nothing when no
    account matches. When the mail cannot be handed over, the key is
    withdrawn, a warning logged, no signal sent, and :class:`mailer.MailerError`
    raised, so that the job runs again (``RESET_MAIL_RETRY``) with a new key.

    A background job (its one argument is plain data), so that asking costs
    and answers the same whether or not the account exists, and a request
    survives a restart. Uses this thread's ``model.Session`` and removes it."""
    session = model.Session()
    try:
        user = user_for_login(session, login) if len(login) <= LONGEST_LOGIN else None
        if user is None or not user.email:
            return
        minutes = int(config.get("heliograph.reset_key_ttl_minutes", 60))
        key = new_reset_key(user, minutes)
        session.commit()
        site = str(config.get("heliograph.site_url", "")).rstrip("/")
        link = site + RESET_PATH.format(user_id=quote(user.id, safe=""), key=key)
        title = config.get("heliograph.site_title", "Heliograph")
        body = (
            f"Hello {user.display_name},\n\n"
            f"Someone asked to reset the password of the account {user.name!r}.\n"
            f"To choose a new password, open this link within {minutes} minutes:\n\n"
            f"{link}\n\n"
            "The link works once. If you did not ask for this, ignore this message.\n"
        )
        try:
            mailer.send_mail(config, user.email, f"Reset your password on {title}", body)
        except mailer.MailerError as exc:
            user.reset_key_hash = None
            user.reset_key_expires = None
            session.commit()
            log.warning("the password reset link for user %r was not sent: %s", user.name, exc)
            raise
        signals.request_password_reset.send(user.name, user=user)
    finally:
        model.Session.remove()
