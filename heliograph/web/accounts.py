"""Sessions and forms: Flask-Login for the logged-in user, Flask-WTF's CSRF
protection for every form.

What a caller can rely on:

- a page request runs as the user logged in through the session cookie (an
  API token sent with it still wins); the action API at ``/api`` is exempt
  from CSRF and knows callers by their API token only, never by the cookie,
  so a forged cross-site request cannot act for a logged-in user;
- every login is a :class:`~heliograph.model.UserSession` row, checked on
  every request: the session cookie and the remember-me cookie hold only a
  reference to it (the user's id and a random secret of which the row keeps a
  hash). Logging out deletes the row, so a copy of the cookie made before
  logs nobody in; a new password (by any path) and ``user_sessions_revoke``
  delete all of the user's rows; a row unused for
  ``heliograph.session_lifetime_days`` expires;
- ``user_logged_in(app, user=...)`` and ``user_logged_out(app, user=...)`` of
  :mod:`heliograph.lib.signals` re-broadcast Flask-Login's own signals, with
  this application as sender and the model user as ``user``.
"""

from __future__ import annotations

import collections.abc as c
import datetime as dt
import hashlib
import hmac
import logging
import math
import secrets
import time
import typing as t

import flask
import flask_login
from flask import Flask
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter, RateLimiter
from sqlalchemy import delete, update

from heliograph import model
from heliograph.config import ConfigError, config
from heliograph.lib import signals
from heliograph.logic import users
from heliograph.web import identity

__all__ = ["init_app", "log_in", "log_out", "login_manager", "open_session"]

log = logging.getLogger(__name__)

login_manager = flask_login.LoginManager()
login_manager.login_view = "user.login"
login_manager.login_message = "Please log in to see that page."

csrf = CSRFProtect()


SESSION_SECRET_BYTES = 32
LAST_SEEN_STEP = dt.timedelta(minutes=5)
"""How stale a session's ``last_seen`` may get before a request refreshes it
(and pushes its expiry back): one write per session per step, not per request."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _lifetime() -> dt.timedelta:
    return dt.timedelta(days=int(config.get("heliograph.session_lifetime_days", 30)))


def open_session(session: t.Any, user: model.User, remember: bool = False) -> str:
    """Add a login session for ``user`` to ``session`` (the caller commits) and
    return its reference, which ``user.get_id()`` now gives Flask-Login."""
    secret = secrets.token_urlsafe(SESSION_SECRET_BYTES)
    now = model.utcnow()
    session.add(
        model.UserSession(
            id=_digest(secret),
            user_id=user.id,
            created=now,
            last_seen=now,
            expires=now + _lifetime(),
            remember=remember,
        )
    )
    user.session_ref = f"{user.id}.{secret}"
    return user.session_ref


def log_in(user: model.User, remember: bool = False) -> bool:
    """Log ``user`` in on this request (a new login session, committed) and
    send ``user_logged_in``; False for an inactive user."""
    if not user.is_active:
        return False
    session = model.Session()
    open_session(session, user, remember)
    session.commit()
    _new_csrf_token()
    return bool(flask_login.login_user(user, remember=remember, duration=_lifetime()))


def log_out() -> None:
    """End this request's login session (its row is deleted), clear the
    session and remember-me cookies and send ``user_logged_out``."""
    ref = flask.session.get("_user_id")
    if isinstance(ref, str) and "." in ref:
        session = model.Session()
        session.execute(
            delete(model.UserSession).where(model.UserSession.id == _digest(ref.partition(".")[2]))
        )
        session.commit()
    flask_login.logout_user()
    _new_csrf_token()


def _new_csrf_token() -> None:
    """Drop the CSRF token, so that the next form gets a new one: a token seen
    before logging in (or out) is refused after."""
    field = flask.current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    flask.session.pop(field, None)
    flask.g.pop(field, None)


def _load_user(session_ref: str) -> model.User | None:
    """The user a session or remember-me cookie names, while that login
    session exists and is unexpired and the user is active."""
    user_id, _dot, secret = session_ref.partition(".")
    if not user_id or not secret or len(secret) > 128:
        return None
    session = model.Session()
    row = session.get(model.UserSession, _digest(secret))
    now = model.utcnow()
    if row is None or not hmac.compare_digest(row.user_id, user_id) or row.expires <= now:
        return None
    user = session.get(model.User, row.user_id)
    if user is None or user.state != model.tables.ACTIVE:
        return None
    if now - row.last_seen >= LAST_SEEN_STEP:
        flask.g.heliograph_session_seen = row.id
    user.session_ref = session_ref
    return user


def _refresh_seen_session(response: t.Any) -> t.Any:
    """After the view: push back the expiry of the login session this request
    used, when its ``last_seen`` was stale. Whatever the view left uncommitted
    is rolled back first, as the end of the request would."""
    session_id = flask.g.pop("heliograph_session_seen", None)
    if session_id is None:
        return response
    now = model.utcnow()
    session = model.Session()
    try:
        session.rollback()
        session.execute(
            update(model.UserSession)
            .where(model.UserSession.id == session_id)
            .values(last_seen=now, expires=now + _lifetime())
        )
        session.commit()
    except Exception:
        session.rollback()
        log.warning("could not record the use of a login session", exc_info=True)
    return response


login_manager.user_loader(_load_user)


def _rebroadcast_logged_in(sender: Flask, **extra: t.Any) -> None:
    signals.user_logged_in.send(sender, user=extra.get("user"))


def _rebroadcast_logged_out(sender: Flask, **extra: t.Any) -> None:
    signals.user_logged_out.send(sender, user=extra.get("user"))


# -- failed logins ------------------------------------------------------------------


class LoginThrottle:
    """Failed logins counted per login (name or e-mail, whatever its case,
    existing or not: the count tells nothing about accounts) and per client
    address, in Flask-Limiter's storage (moving windows): in this process by
    default, in Redis when ``heliograph.ratelimit.storage_uri`` names one.
    When that storage fails, counting goes on in this process (logged)."""

    def __init__(self, app: Flask) -> None:
        # The storage and strategy Flask-Limiter uses, without its extension: it
        # would check (empty) limits before and after every request of the app.
        self.strategy: RateLimiter = MovingWindowRateLimiter(
            storage_from_string(config["heliograph.ratelimit.storage_uri"])
        )
        self.per_login = _limits(config["heliograph.login_limit.account"])
        self.per_address = _limits(config["heliograph.login_limit.address"])
        self._fallback = MovingWindowRateLimiter(MemoryStorage())

    def _checks(self, login: str) -> list[tuple[RateLimitItem, str]]:
        checks = [(item, f"heliograph/login/{login.strip().lower()}") for item in self.per_login]
        if flask.has_request_context():
            address = get_remote_address() or "unknown"
            checks += [(item, f"heliograph/address/{address}") for item in self.per_address]
        return checks

    def _run(self, step: c.Callable[[RateLimiter], t.Any]) -> t.Any:
        try:
            return step(self.strategy)
        except Exception:
            log.warning(
                "the rate limit storage failed; counting failed logins in this process",
                exc_info=True,
            )
            return step(self._fallback)

    def retry_after(self, login: str) -> int | None:
        """Seconds until ``login`` may be tried from this address again, or
        None when it may be tried now."""
        checks = self._checks(login)

        def wait(strategy: RateLimiter) -> int | None:
            longest: float | None = None
            for item, key in checks:
                if not strategy.test(item, key):
                    reset = strategy.get_window_stats(item, key).reset_time - time.time()
                    longest = reset if longest is None else max(longest, reset)
            return None if longest is None else max(1, math.ceil(longest))

        return t.cast("int | None", self._run(wait))

    def failed(self, login: str) -> None:
        """Count one failed login of ``login`` from this address."""
        checks = self._checks(login)

        def hit(strategy: RateLimiter) -> None:
            for item, key in checks:
                strategy.hit(item, key)

        self._run(hit)


def _limits(text: str) -> list[RateLimitItem]:
    return list(parse_many(text)) if text else []


def login_throttle() -> LoginThrottle:
    return t.cast(LoginThrottle, flask.current_app.extensions["heliograph_login_throttle"])


def _current_throttle() -> LoginThrottle | None:
    """The throttle of the app handling this request or CLI command, if any."""
    if not flask.has_app_context():
        return None
    found = flask.current_app.extensions.get("heliograph_login_throttle")
    return found if isinstance(found, LoginThrottle) else None


def init_app(app: Flask) -> None:
    """Set up Flask-Login and CSRF protection on ``app`` (before blueprints)."""
    # Templates get Flask-Login's current_user as its lazy proxy (templating),
    # so that a page nobody is logged in to never asks Flask-Login.
    login_manager.init_app(app, add_context_processor=False)
    # CSRF is checked by _check_csrf, which knows API token callers.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(_check_csrf)
    app.after_request(_refresh_seen_session)
    try:
        app.extensions["heliograph_login_throttle"] = LoginThrottle(app)
    except Exception as exc:
        raise ConfigError(
            f"configuration key 'heliograph.ratelimit.storage_uri': cannot use it: {exc}"
        ) from exc
    users.set_password_checks(int(config.get("heliograph.password_checks", 0)))
    users.set_password_throttle(_current_throttle)  # wrong current passwords count as failed logins
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    # Module-level receivers, filtered by this app, as for the request signals.
    flask_login.user_logged_in.connect(_rebroadcast_logged_in, app)
    flask_login.user_logged_out.connect(_rebroadcast_logged_out, app)


def _check_csrf() -> None:
    """Flask-WTF's check on every form post, except for a caller identified by
    an API token it sent: a cross-site form cannot send that header (as CKAN)."""
    if not flask.current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if flask.request.method not in flask.current_app.config["WTF_CSRF_METHODS"]:
        return
    if identity.identified_by_token():
        return
    csrf.protect(apply_exemptions=True)


def exempt_api(blueprint: t.Any) -> None:
    """The JSON API authenticates with tokens, not cookies: no CSRF token."""
    csrf.exempt(blueprint)
