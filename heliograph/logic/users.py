"""Creating users and checking their passwords.

:func:`create_user` is the one place a user row is made - by the
``user_create`` action, the command line and the web sign-up alike - so the
``user_created`` signal (issue 5) can be sent from exactly here. Passwords
are hashed with Argon2 (``argon2-cffi``); the hash never leaves this module
in an action's result.
"""

from __future__ import annotations

import typing as t

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from heliograph import model

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: model.User, password: str) -> bool:
    """True when ``password`` is the user's password. Rehashes (in the
    session, uncommitted) when the stored hash uses outdated parameters."""
    if not user.password or not isinstance(password, str):
        return False
    try:
        _hasher.verify(user.password, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password):
        user.password = _hasher.hash(password)
    return True


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
    with a password.
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
    return user
