"""Who is calling: the user behind the request's API token, or anonymous.

As in CKAN, the raw token travels in the ``Authorization`` header (no
``Bearer`` prefix needed; one is tolerated). ``X-CKAN-API-Key`` is accepted
too, since ckanapi sends both. A missing, unknown or revoked token is not an
error: the request runs as anonymous - or, on a page (never on the API),
as the user logged in through the session cookie (Flask-Login).
"""

from __future__ import annotations

import logging
import typing as t

import flask
import flask_login
from flask_login.config import COOKIE_NAME

from heliograph import model
from heliograph.logic import tokens

log = logging.getLogger(__name__)

HEADERS = ("Authorization", "X-CKAN-API-Key")
_ENVIRON_KEYS = tuple("HTTP_" + header.upper().replace("-", "_") for header in HEADERS)
"""The headers' WSGI environ keys (read there: werkzeug's headers.get raises
and catches an exception for every header that is absent)."""

_ANONYMOUS: tuple[str | None, t.Any] = (None, None)


def user_for_token(session: t.Any, token: str) -> model.User | None:
    """The active user owning ``token`` (``heliograph.logic.tokens``), or None."""
    return tokens.user_for_token(session, token)


def _candidates() -> list[str]:
    found: list[str] = []
    environ = flask.request.environ
    for key in _ENVIRON_KEYS:
        value = (environ.get(key) or "").strip()
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        if value and value not in found:
            found.append(value)
    return found


def _session_user() -> tuple[str | None, model.User | None]:
    if flask.session.get("_user_id") is None:
        request = flask.request
        if "HTTP_COOKIE" not in request.environ:
            return _ANONYMOUS  # no login in the session, no cookie at all: nobody
        remember = flask.current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME)
        if remember not in request.cookies:
            return _ANONYMOUS  # nor a remember-me cookie
    user = flask_login.current_user
    if isinstance(user, model.User) and user.state == model.tables.ACTIVE:
        return (user.name, user)
    return _ANONYMOUS


def identify() -> tuple[str | None, model.User | None]:
    """``(user name, user)`` for the current request, or ``(None, None)``.

    Looked up once per request.
    """
    cached = flask.g.get("heliograph_identity")
    if cached is not None:
        return t.cast("tuple[str | None, model.User | None]", cached)
    result = _ANONYMOUS
    for token in _candidates():
        try:
            user = user_for_token(model.Session, token)
        except Exception:
            log.warning(
                "could not check an API token; the request runs as anonymous", exc_info=True
            )
            model.Session.rollback()
            user = None
        if user is not None:
            result = (user.name, user)
            flask.g.heliograph_identity_by_token = True
            break
    if result is _ANONYMOUS and flask.request.blueprint != "api":
        result = _session_user()
    flask.g.heliograph_identity = result
    return result


def identified_by_token() -> bool:
    """Whether this request's caller is the owner of a valid API token it sent
    (as opposed to the session cookie, or nobody)."""
    if not _candidates():
        return False
    identify()
    return bool(flask.g.get("heliograph_identity_by_token", False))
