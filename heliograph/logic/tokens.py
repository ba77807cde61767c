"""API tokens: opaque random secrets of which only a hash is stored.

A token is ``secrets.token_urlsafe(32)`` (43 URL-safe characters, 256 random
bits). The ``api_token`` row keeps no copy of it: its primary key *is* the
hash - the first 36 hex digits of the token's SHA-256 - so the token can be
looked up by hashing it, and a stolen database reveals no usable token. The
row's ``id`` doubles as CKAN's token id (``jti``). A token is valid while its
row exists and its user is active.

Clients send the raw token in the ``Authorization`` header (no ``Bearer``
prefix, as CKAN 2.11); the web layer calls :func:`user_for_token`.
"""

from __future__ import annotations

import hashlib
import secrets
import typing as t

from heliograph import model

TOKEN_BYTES = 32
_ID_LENGTH = 36


def token_id(token: str) -> str:
    """The id (stored hash) of ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:_ID_LENGTH]


def create_token(session: t.Any, user: model.User, name: str) -> tuple[model.ApiToken, str]:
    """Add a token for ``user``; returns the row and the secret (shown once)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = model.ApiToken(id=token_id(token), user_id=user.id, name=name, created_at=model.utcnow())
    session.add(row)
    session.flush()
    return row, token


def user_for_token(session: t.Any, token: str | None) -> model.User | None:
    """The active user the token belongs to, or None (unknown, revoked or
    malformed token, or a deleted user)."""
    if not token or not isinstance(token, str) or len(token) > 512:
        return None
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    row = session.get(model.ApiToken, token_id(token))
    if row is None:
        return None
    user = session.get(model.User, row.user_id)
    if user is None or user.state != model.tables.ACTIVE:
        return None
    return t.cast(model.User, user)
