"""User pages: the list, a user's page with their API tokens, and the account
pages - login, logout, registration, forgotten and reset password.

Signals sent here (all from :mod:`heliograph.lib.signals`):

- ``failed_login(login_tried)`` for every failed login attempt that names a
  login and a password - unknown login and wrong password alike, with the same
  answer; a hash with outdated Argon2 parameters is replaced on success.
  Failed logins are limited per login and per client address
  (``heliograph.login_limit.*``): past the limit an attempt is answered 429
  with ``Retry-After`` without checking the password (and sends nothing);
- ``user_logged_in`` / ``user_logged_out`` through Flask-Login (see
  :mod:`heliograph.web.accounts`); ``user_created`` by ``user_create``;
- ``request_password_reset(name, user=...)`` once the reset mail was handed
  to the mail server (never when sending failed), after the request: the
  page answers the same, at the same cost, whether or not an account matched
  and whether or not the mail server is up (a failed mail is logged);
- ``perform_password_reset(name, user=...)`` once the new password is stored.
"""

from __future__ import annotations

import logging
import typing as t
import urllib.parse

import flask
import flask_login
from flask import Blueprint
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from heliograph import logic, model
from heliograph.config import config
from heliograph.events import jobs
from heliograph.lib import signals
from heliograph.logic import users, validation
from heliograph.web import accounts, identity
from heliograph.web.views import call_action, page_context

log = logging.getLogger(__name__)

blueprint = Blueprint("user", __name__, url_prefix="/user")

LOGIN_FAILED = "Login failed. Bad user name, e-mail or password."
TOO_MANY_FAILED = (
    "Too many failed logins with this user name or e-mail, or from your address. "
    "Try again in {seconds} seconds."
)
BUSY = "The server is busy checking other logins. Try again in a moment."
LOGIN_WAIT_SECONDS = 2.0
"""How long a login waits for an Argon2 slot before it is answered 503 (so
that a flood of logins cannot hold every server thread)."""
RESET_REQUESTED = (
    "If an account matches what you entered, a link to reset its password has been "
    "mailed to the account's e-mail address."
)
RESET_INVALID = (
    "This password reset link is not valid: it is wrong, has expired or has been used "
    "already. Ask for a new one."
)


def _form(name: str) -> str:
    value = flask.request.form.get(name, "")
    return value if isinstance(value, str) else ""


def _safe_next(target: str | None) -> str | None:
    """A local path to go to after login; anything pointing elsewhere is dropped."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return None
    return target


# -- lists and pages --------------------------------------------------------------


@blueprint.route("/", strict_slashes=False)
def index() -> str:
    users_ = call_action("user_list", {"all_fields": True})
    return flask.render_template("user/index.html", users=users_)


@blueprint.route("/<id>")
def read(id: str) -> str:
    user = call_action("user_show", {"id": id, "include_datasets": True})
    tokens: list[dict[str, t.Any]] | None = None
    _name, caller = identity.identify()
    if caller is not None and (caller.id == user["id"] or caller.sysadmin):
        tokens = call_action("api_token_list", {"user_id": user["id"]})
    return flask.render_template("user/read.html", user_dict=user, tokens=tokens, new_token=None)


@blueprint.route("/<id>/api-tokens", methods=["POST"])
def api_token_create(id: str) -> Response:
    """Make a token and show it once, on this response (never stored in clear,
    never put in the session cookie, never cached)."""
    result = call_action("api_token_create", {"user": id, "name": _form("name") or "web"})
    user = call_action("user_show", {"id": id})
    tokens = call_action("api_token_list", {"user_id": user["id"]})
    response = flask.make_response(
        flask.render_template(
            "user/read.html", user_dict=user, tokens=tokens, new_token=result["token"]
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/<id>/api-tokens/<jti>/revoke", methods=["POST"])
def api_token_revoke(id: str, jti: str) -> Response:
    call_action("api_token_revoke", {"jti": jti})
    flask.flash("The API token has been revoked.")
    return flask.redirect(flask.url_for("user.read", id=id))


@blueprint.route("/<id>/sessions/revoke", methods=["POST"])
def sessions_revoke(id: str) -> Response:
    """End every login session of the user (a sysadmin's or your own "log out
    everywhere"); yours included, when they are yours."""
    user = call_action("user_show", {"id": id})
    call_action("user_sessions_revoke", {"id": user["id"]})
    current = flask_login.current_user
    if current.is_authenticated and current.id == user["id"]:
        accounts.log_out()
        flask.flash("All your login sessions have ended, this one too.")
        return flask.redirect(flask.url_for("user.login"))
    flask.flash(f"All login sessions of {user['name']} have ended.")
    return flask.redirect(flask.url_for("user.read", id=user["name"]))


# -- editing your profile -----------------------------------------------------------

PROFILE_FIELDS = ("fullname", "email", "about")


@blueprint.route("/edit/<id>", methods=["GET", "POST"])
def edit(id: str) -> t.Any:
    """Edit a profile (yours, or anyone's for a sysadmin) through ``user_patch``:
    full name, e-mail, about and password. A new e-mail or password needs the
    caller's current password."""
    _name, caller = identity.identify()
    if caller is None:
        flask.flash("Please log in first.")
        return flask.redirect(flask.url_for("user.login", next=flask.request.path))
    user = call_action("user_show", {"id": id})
    try:
        logic.check_access("user_update", page_context(), {"id": user["id"]})
    except logic.NotAuthorized as exc:
        raise Forbidden(exc.message or None) from None
    own = caller.id == user["id"]
    if flask.request.method == "GET":
        values = {key: user.get(key) or "" for key in PROFILE_FIELDS}
        return flask.render_template(
            "user/edit.html", user_dict=user, values=values, errors={}, own=own
        )
    values = {key: _form(key).strip() if key != "about" else _form(key) for key in PROFILE_FIELDS}
    password1, password2, old = _form("password1"), _form("password2"), _form("old_password")
    errors: dict[str, list[str]] = {}
    if password1 != password2:
        errors["password2"] = ["The passwords you entered do not match."]
    changes: dict[str, t.Any] = {"id": user["id"]}
    for key in PROFILE_FIELDS:
        if values[key] != (user.get(key) or ""):
            changes[key] = values[key]
    if password1:
        changes["password"] = password1
    if ("email" in changes or "password" in changes) and not errors:
        if not old:
            errors["old_password"] = [
                "Enter your current password to change the e-mail address or the password."
            ]
        elif refusal := users.current_password_refusal(
            caller, old, wrong="Your current password is not right."
        ):
            errors["old_password"] = [refusal]
        elif own and "password" in changes:
            changes["old_password"] = old
    if not errors and len(changes) > 1:
        try:
            logic.get_action("user_patch")(page_context(), changes)
        except logic.ValidationError as exc:
            errors = {("password1" if k == "password" else k): v for k, v in exc.error_dict.items()}
        except logic.NotAuthorized as exc:
            raise Forbidden(exc.message or None) from None
    if errors:
        model.Session.rollback()
        body = flask.render_template(
            "user/edit.html", user_dict=user, values=values, errors=errors, own=own
        )
        return body, 400
    flask.flash("Your profile has been saved." if own else "The profile has been saved.")
    if own and "password" in changes:
        # A new password ends every login session, this one too: open a new one here.
        row = model.Session.get(model.User, caller.id)
        if row is not None:
            accounts.log_in(row)
        flask.flash("Your password has been changed: your other login sessions have ended.")
    return flask.redirect(flask.url_for("user.read", id=user["name"]))


# -- login and logout ---------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> t.Any:
    if flask.request.method == "GET":
        return flask.render_template("user/login.html", login="", error=None)
    login_tried = _form("login").strip()
    password = _form("password")
    if not login_tried or not password:
        return (
            flask.render_template(
                "user/login.html", login=login_tried, error="Enter your login and password."
            ),
            400,
        )
    session = model.Session
    throttle = accounts.login_throttle()
    try:
        # Limit, check and count in one Argon2 slot: parallel guesses cannot
        # all pass the limit before the first failure is counted.
        with users.password_check_slot(timeout=LOGIN_WAIT_SECONDS):
            wait = throttle.retry_after(login_tried)
            if wait is not None:
                return _login_refused(login_tried, TOO_MANY_FAILED.format(seconds=wait), 429, wait)
            user = users.authenticate(session, login_tried, password)
            if user is None or not user.is_active:
                throttle.failed(login_tried)
    except users.PasswordChecksBusy:
        return _login_refused(login_tried, BUSY, 503, 1)
    if user is None or not user.is_active:
        session.rollback()
        signals.failed_login.send(login_tried)
        return flask.render_template("user/login.html", login=login_tried, error=LOGIN_FAILED), 401
    user.last_active = model.utcnow()
    session.commit()  # keeps a rehashed password
    accounts.log_in(user, remember=bool(_form("remember")))
    target = _safe_next(flask.request.args.get("next")) or flask.url_for("dashboard.datasets")
    return flask.redirect(target)


def _login_refused(login: str, message: str, status: int, retry_after: int) -> Response:
    response = flask.make_response(
        flask.render_template("user/login.html", login=login, error=message), status
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


@blueprint.route("/_logout", methods=["POST"])
def logout() -> Response:
    """End the login session of the cookie (server-side: a copy of the cookie
    no longer works). A caller known by an API token instead is logged out
    too - ``user_logged_out`` is sent for them - but the token stays valid
    until revoked."""
    if flask_login.current_user.is_authenticated:
        accounts.log_out()
        flask.flash("You are logged out.")
    elif identity.identified_by_token():
        _name, user = identity.identify()
        app = t.cast(t.Any, flask.current_app)._get_current_object()
        flask_login.user_logged_out.send(app, user=user)
        flask.flash("You are logged out. The API token you sent stays valid until you revoke it.")
    return flask.redirect(flask.url_for("home.index"))


# -- registration -------------------------------------------------------------------


@blueprint.route("/register", methods=["GET", "POST"])
def register() -> t.Any:
    if not config.get("heliograph.auth.create_user_via_web", True) and not _is_sysadmin():
        raise Forbidden("This site does not take new registrations.")
    values = {key: _form(key) for key in ("name", "fullname", "email")}
    if flask.request.method == "GET":
        return flask.render_template("user/register.html", values=values, errors={})
    password1, password2 = _form("password1"), _form("password2")
    errors: dict[str, list[str]] = {}
    if password1 != password2:
        errors["password2"] = ["The passwords you entered do not match."]
    data = {**values, "password": password1}
    if not data["fullname"]:
        data.pop("fullname")
    user: t.Any = None
    if not errors:
        try:
            user = logic.get_action("user_create")(page_context(), data)
        except logic.ValidationError as exc:
            errors = {("password1" if k == "password" else k): v for k, v in exc.error_dict.items()}
        except logic.NotAuthorized as exc:
            raise Forbidden(exc.message or None) from None
    if errors:
        return flask.render_template("user/register.html", values=values, errors=errors), 400
    if not flask_login.current_user.is_authenticated:
        row = model.Session.get(model.User, user["id"])
        if row is not None:
            accounts.log_in(row)
        flask.flash("Welcome! This is your dashboard: start here.")
        return flask.redirect(flask.url_for("dashboard.datasets"))
    return flask.redirect(flask.url_for("user.read", id=user["name"]))


def _is_sysadmin() -> bool:
    _name, user = identity.identify()
    return bool(user is not None and user.sysadmin)


# -- forgotten password -----------------------------------------------------------


@blueprint.route("/reset", methods=["GET", "POST"])
def request_reset() -> t.Any:
    if flask.request.method == "GET":
        return flask.render_template("user/request_reset.html", login="", message=None)
    login_tried = _form("user").strip()
    if not login_tried:
        return (
            flask.render_template(
                "user/request_reset.html",
                login="",
                message=None,
                error="Enter your user name or e-mail address.",
            ),
            400,
        )
    # The same work whoever is named: the request only enqueues a job; the
    # lookup, the key and the mail are made by a worker (users.mail_reset_link),
    # so neither time nor answer tells whether an account exists or whether
    # the mail server is up, and a restart loses no request.
    try:
        jobs.enqueue(
            users.mail_reset_link,
            [login_tried],
            title="password reset mail",
            retry=users.RESET_MAIL_RETRY,
        )
    except jobs.JobError as exc:
        log.error("a password reset request could not be queued: %s", exc)
    return flask.render_template("user/request_reset.html", login="", message=RESET_REQUESTED)


@blueprint.route("/reset/<id>", methods=["GET", "POST"])
def perform_reset(id: str) -> t.Any:
    key = flask.request.args.get("key") or _form("key")
    session = model.Session
    user = session.get(model.User, id)
    if user is not None and user.state != model.tables.ACTIVE:
        user = None
    if not users.reset_key_valid(user, key):
        return flask.render_template("user/reset_invalid.html", message=RESET_INVALID), 400
    assert user is not None
    if flask.request.method == "GET":
        return flask.render_template("user/perform_reset.html", user=user, key=key, errors={})
    password1, password2 = _form("password1"), _form("password2")
    errors: dict[str, list[str]] = {}
    try:
        validation.password_validator(password1, validation.State(context={}, data={}))
    except validation.Invalid as exc:
        errors["password1"] = [str(exc)]
    if not password1:
        errors["password1"] = ["Enter a new password."]
    if password1 != password2:
        errors["password2"] = ["The passwords you entered do not match."]
    if errors:
        return (
            flask.render_template("user/perform_reset.html", user=user, key=key, errors=errors),
            400,
        )
    users.set_password(user, password1)
    session.commit()
    signals.perform_password_reset.send(user.name, user=user)
    flask.flash("Your password has been changed. You can log in with it now.")
    return flask.redirect(flask.url_for("user.login"))
