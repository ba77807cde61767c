"""Sessions and forms: Flask-Login for the logged-in user, Flask-WTF's CSRF
protection for every form.

What a caller can rely on:

- a page request runs as the user logged in through the session cookie (an
  API token sent with it still wins); the action API at ``/api`` is exempt
  from CSRF and knows callers by their API token only, never by the cookie,
  so a forged cross-site request cannot act for a logged-in user;
- ``user_logged_in(app, user=...)`` and ``user_logged_out(app, user=...)`` of
  :mod:`heliograph.lib.signals` re-broadcast Flask-Login's own signals, with
  this application as sender and the model user as ``user``.
"""

from __future__ import annotations

import hmac
import typing as t

import flask_login
from flask import Flask
from flask_wtf.csrf import CSRFProtect

from heliograph import model
from heliograph.lib import signals

__all__ = ["init_app", "login_manager"]

login_manager = flask_login.LoginManager()
login_manager.login_view = "user.login"
login_manager.login_message = "Please log in to see that page."

csrf = CSRFProtect()


def _load_user(session_id: str) -> model.User | None:
    """The user a session names, while it is active and its password is the
    one the session was made with (see ``User.get_id``)."""
    user_id, _dot, _fragment = session_id.partition(".")
    user = model.Session.get(model.User, user_id)
    if user is None or user.state != model.tables.ACTIVE:
        return None
    if not hmac.compare_digest(user.get_id(), session_id):
        return None
    return user


login_manager.user_loader(_load_user)


def _rebroadcast_logged_in(sender: Flask, **extra: t.Any) -> None:
    signals.user_logged_in.send(sender, user=extra.get("user"))


def _rebroadcast_logged_out(sender: Flask, **extra: t.Any) -> None:
    signals.user_logged_out.send(sender, user=extra.get("user"))


def init_app(app: Flask) -> None:
    """Set up Flask-Login and CSRF protection on ``app`` (before blueprints)."""
    login_manager.init_app(app)
    csrf.init_app(app)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's life
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    # Module-level receivers, filtered by this app, as for the request signals.
    flask_login.user_logged_in.connect(_rebroadcast_logged_in, app)
    flask_login.user_logged_out.connect(_rebroadcast_logged_out, app)


def exempt_api(blueprint: t.Any) -> None:
    """The JSON API authenticates with tokens, not cookies: no CSRF token."""
    csrf.exempt(blueprint)
