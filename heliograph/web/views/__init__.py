"""The blueprints, one a module, and what the page views share.

Pages call actions through :func:`call_action`, which turns the logic layer's
errors into HTTP errors (403, 404, 400) rendered by :func:`render_error`; a
page never answers 500 because of bad input.
"""

from __future__ import annotations

import typing as t

import flask
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, NotFound

from heliograph import logic, model
from heliograph.web import identity

TITLES = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    500: "Internal server error",
}


def page_context() -> dict[str, t.Any]:
    """A fresh action context for the caller of the current request."""
    name, user = identity.identify()
    return logic.ActionContext(user=name, auth_user_obj=user, session=model.Session)


def call_action(name: str, data_dict: dict[str, t.Any]) -> t.Any:
    """Run action ``name`` for the caller; its errors become HTTP errors."""
    try:
        return logic.get_action(name)(page_context(), data_dict)
    except logic.NotAuthorized as exc:
        raise Forbidden(exc.message or None) from None
    except logic.ObjectNotFound as exc:
        raise NotFound(exc.message or None) from None
    except logic.ValidationError as exc:
        raise BadRequest(exc.summary()) from None
    except logic.UnknownAction:
        raise NotFound(f"This portal has no {name} action.") from None


def int_arg(name: str, default: int, minimum: int = 1) -> int:
    """A whole-number query parameter; anything unreadable gives ``default``."""
    try:
        value = int(flask.request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(value, minimum)


def render_error(exc: HTTPException) -> tuple[str, int]:
    code = exc.code or 500
    description = exc.description if code != 500 else None
    body = flask.render_template(
        "error.html",
        code=code,
        title=TITLES.get(code, exc.name),
        description=description,
    )
    return body, code
