"""The action API, wire-compatible with CKAN's (``/api/3/action/<name>``).

- ``GET /api`` and ``/api/<1-3>`` answer ``{"version": N}``.
- ``/api/3/action/<name>`` and ``/api/action/<name>`` run the action: GET only
  for side-effect-free actions (parameters from the query string, a repeated
  key becoming a list), POST for any (a JSON object, or a form / multipart
  body whose files are added under their field name).
- Success: ``{"help": ..., "success": true, "result": ...}``. Failure:
  ``{"help": ..., "success": false, "error": {"__type": ..., ...}}`` with 409
  (Validation Error), 400 (Search Query Error), 403 (Authorization Error),
  404 (Not Found Error), 413
  (body too large) or 500 (Internal Server Error; the traceback is logged,
  never shown). Malformed JSON, a wrong method and an unknown action are 400
  with a bare JSON string, as in CKAN.
- Every answer is ``application/json;charset=utf-8`` (JSONP for a GET with a
  ``callback`` parameter, which then runs as anonymous).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import re
import typing as t
import uuid

import flask
from flask import Blueprint, Response

try:
    import orjson
except ImportError:  # the "fast" extra is optional: json writes the same document
    orjson = None  # type: ignore[assignment]
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from heliograph import logic, model
from heliograph.config import config
from heliograph.signals.base import _short_repr
from heliograph.web import identity

log = logging.getLogger(__name__)

API_VERSION = 3
CONTENT_TYPE = "application/json;charset=utf-8"
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]{0,99}$")

blueprint = Blueprint("api", __name__, url_prefix="/api")


class _BadRequest(Exception):
    """A request the API refuses with 400 and a bare JSON string."""


# -- routes -------------------------------------------------------------------


@blueprint.route("", methods=["GET"], strict_slashes=False)
def root() -> Response:
    return _json_response({"version": 1}, 200)


@blueprint.route("/<int(min=1, max=3):ver>", methods=["GET"], strict_slashes=False)
def versioned_root(ver: int) -> Response:
    return _json_response({"version": ver}, 200)


@blueprint.route("/action/<name>", methods=["GET", "POST"])
@blueprint.route("/3/action/<name>", methods=["GET", "POST"])
def action(name: str) -> Response:
    try:
        function = logic.get_action(name)
    except logic.UnknownAction:
        return _bad_request(f"Action name not known: {name}")
    side_effect_free = logic.is_side_effect_free(function)
    if flask.request.method != "POST" and not side_effect_free:
        return _bad_request("JSON Error: Invalid request. Please use POST method for your request")
    try:
        data_dict = _request_data(try_url_params=side_effect_free)
    except _BadRequest as exc:
        return _bad_request(f"JSON Error: {exc}")
    except RequestEntityTooLarge as exc:
        return _error(name, exc.code or 413, _too_large_error())

    callback = _jsonp_callback()
    if callback is not None:
        data_dict.pop("callback", None)
        data_dict.pop("_", None)
        user_name, user = None, None
    else:
        user_name, user = identity.identify()
    context: dict[str, t.Any] = logic.ActionContext(
        user=user_name, auth_user_obj=user, session=model.Session, api_version=API_VERSION
    )
    try:
        result = function(context, data_dict)
    except logic.SearchQueryError as exc:
        return _error(
            name,
            400,
            {"__type": "Search Query Error", "message": f"Search Query is invalid: {exc.message}"},
        )
    except logic.ValidationError as exc:
        error = dict(exc.error_dict)
        error["__type"] = "Validation Error"
        return _error(name, 409, error)
    except logic.NotAuthorized as exc:
        return _error(name, 403, _message_error("Authorization Error", "Access denied", exc))
    except logic.ObjectNotFound as exc:
        return _error(name, 404, _message_error("Not Found Error", "Not found", exc))
    except RequestEntityTooLarge:
        return _error(name, 413, _too_large_error())
    except Exception:
        log.exception("action %s failed over the API", name)
        model.Session.rollback()
        return _internal_error(name)

    envelope = {"help": _help_url(name), "success": True, "result": result}
    try:
        body = _dumps(envelope)
    except (TypeError, ValueError):
        log.exception("the result of action %s cannot be written as JSON", name)
        return _internal_error(name)
    if callback is not None:
        body = callback.encode("utf-8") + b"(" + body + b");"
        return Response(body, 200, content_type="application/javascript")
    return Response(body, 200, content_type=CONTENT_TYPE)


# -- request data -------------------------------------------------------------


def _request_data(try_url_params: bool) -> dict[str, t.Any]:
    """The data dict of the request, read as CKAN's ``_get_request_data`` does."""
    request = flask.request
    if try_url_params and request.args and request.method == "GET":
        return _flatten_multi(request.args)
    data = _body_data()
    if not data and try_url_params and request.args:
        return _flatten_multi(request.args)
    return data


def _body_data() -> dict[str, t.Any]:
    request = flask.request
    mimetype = request.mimetype
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form, files = request.form, request.files
        if len(form) == 1 and not files:
            key, values = next(iter(form.lists()))
            if len(values) == 1 and values[0] in ("", "1"):
                return _decode_json_object(key)
        data = _flatten_multi(form)
        for field, storages in files.lists():
            data[field] = storages[0] if len(storages) == 1 else storages
        return data
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BadRequest(
            f"Error decoding JSON data. Error: {exc} "
            f"JSON data extracted from the request: {_short_repr(raw, 200)}"
        ) from None
    return _decode_json_object(text)


def _decode_json_object(text: str) -> dict[str, t.Any]:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise _BadRequest(
            f"Error decoding JSON data. Error: {exc!r} "
            f"JSON data extracted from the request: {_short_repr(text, 200)}"
        ) from None
    if not isinstance(value, dict):
        raise _BadRequest(
            f"Request data JSON decoded to {_short_repr(value, 200)} "
            "but it needs to be a dictionary."
        )
    return value


def _reject_constant(name: str) -> t.NoReturn:
    # NaN and Infinity are not JSON; Python's decoder accepts them unless told.
    raise ValueError(f"{name} is not valid JSON")


def _flatten_multi(multi: t.Any) -> dict[str, t.Any]:
    return {key: values[0] if len(values) == 1 else values for key, values in multi.lists()}


def _jsonp_callback() -> str | None:
    request = flask.request
    if request.method != "GET":
        return None
    args = request.args
    if "callback" not in args:  # args.get raises and catches for a missing key
        return None
    callback = args["callback"]
    return callback if _CALLBACK.match(callback) else None


# -- responses ----------------------------------------------------------------


def _help_url(name: str) -> str:
    site_url = str(config.get("heliograph.site_url") or flask.request.host_url).rstrip("/")
    return f"{site_url}/api/3/action/help_show?name={name}"


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ORJSON_OPTIONS = (
    0 if orjson is None else orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def _dumps(value: object) -> bytes:
    """``value`` as JSON (UTF-8): the same document :func:`json.dumps` writes
    (keys in order, the same values; compact, and non-ASCII characters as
    themselves rather than escaped). orjson writes it when installed (the
    ``fast`` extra); what it cannot write (an integer past 64 bits, a key
    that is not a string) goes to :mod:`json`."""
    if orjson is not None:
        try:
            return orjson.dumps(value, default=_json_default, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return json.dumps(value, default=_json_default).encode("utf-8")


def _json_response(value: object, status: int) -> Response:
    return Response(_dumps(value), status, content_type=CONTENT_TYPE)


def _bad_request(message: str) -> Response:
    return _json_response(f"Bad request - {message}", 400)


def _message_error(kind: str, prefix: str, exc: Exception) -> dict[str, str]:
    text = getattr(exc, "message", None) or str(exc)
    return {"__type": kind, "message": f"{prefix}: {text}" if text else prefix}


def _too_large_error() -> dict[str, str]:
    limit = config.get("heliograph.max_request_size_mb")
    return {
        "__type": "Request Too Large",
        "message": (
            f"Request Too Large: the request body exceeds {limit} MB "
            "(configuration key heliograph.max_request_size_mb)"
        ),
    }


def _error(name: str | None, status: int, error: dict[str, t.Any]) -> Response:
    envelope: dict[str, t.Any] = {}
    if name is not None:
        envelope["help"] = _help_url(name)
    envelope["success"] = False
    envelope["error"] = error
    try:
        return _json_response(envelope, status)
    except (TypeError, ValueError):
        log.exception("an error of action %s cannot be written as JSON", name)
        return _internal_error(name)


def _internal_error(name: str | None) -> Response:
    envelope: dict[str, t.Any] = {}
    if name is not None:
        envelope["help"] = _help_url(name)
    envelope["success"] = False
    envelope["error"] = {"__type": "Internal Server Error", "message": "Internal Server Error"}
    return _json_response(envelope, 500)


def http_error_response(exc: HTTPException) -> Response:
    """An HTTP error on an ``/api`` path (no such route, wrong method, body
    too large, a crash outside an action) as a JSON envelope, not a page."""
    code = exc.code or 500
    name = (flask.request.view_args or {}).get("name")
    if code == 413:
        return _error(name, 413, _too_large_error())
    if code >= 500:
        return _internal_error(name)
    kind = "Not Found Error" if code == 404 else exc.name
    response = _error(name, code, {"__type": kind, "message": f"{exc.name}: {exc.description}"})
    if code == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return response
