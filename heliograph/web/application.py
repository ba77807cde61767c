"""The portal's Flask class: Flask with the per-request work that gives the
same answer every time done once.

- The core signals ``request_started`` and ``request_finished`` are sent
  by :class:`Portal` itself, at the moments Flask sends its own (which
  still go to whoever connects to them), with the app as sender.

- :meth:`Portal.url_for` keeps the URLs it built. A page builds twenty or so
  (the header's links, each resource's download link), each a walk through
  werkzeug's routing, and builds the same ones on every request. A URL is
  kept under everything its text depends on: the endpoint (with the
  request's blueprint for a relative one), the values in their order, the
  anchor, method, scheme and external flag, and the request's host, script
  root, scheme and subdomain. Only values of plain types are kept (str, int,
  None; not bool, which equals an int but is written otherwise), and nothing
  is kept while the app has URL-default functions (they may add values the
  key does not show). The store is bounded: it is emptied when full.
- :meth:`Portal.ensure_sync` remembers the functions it found not to be
  coroutine functions (Flask asks ``inspect`` again for every hook of every
  request).
- :class:`SessionInterface` makes the session cookie's signing serializer
  once per secret key (Flask makes it anew on every request, cookie or not).
- :class:`TemplateEnvironment` reads ``pkg.title`` of a dict as the item
  first: Jinja tries the attribute first, and the AttributeError it raises
  and catches for every such lookup is most of a page's attribute reads.
  The answer is the same, since a name that is not an attribute of dict is
  what Jinja would look up as the item anyway.
"""

from __future__ import annotations

import threading
import typing as t
from types import FunctionType

from flask import Flask, Response
from flask.globals import _cv_request
from flask.sessions import SecureCookieSessionInterface
from flask.templating import Environment
from itsdangerous import URLSafeTimedSerializer

from heliograph.lib import signals

__all__ = ["MAX_HOSTS", "MAX_SYNC", "MAX_URLS", "Portal", "SessionInterface", "TemplateEnvironment"]

MAX_URLS = 4096
"""URLs kept by :meth:`Portal.url_for` per host before they are forgotten."""
MAX_HOSTS = 64
"""Hosts (with root, scheme, subdomain) whose URLs are kept at once."""
_URLS_OF_REQUEST = "heliograph_urls"
MAX_SYNC = 1024
"""Functions :meth:`Portal.ensure_sync` remembers before it forgets them all."""

_PLAIN = frozenset({str, int, type(None)})
_DICT_ATTRIBUTES = frozenset(dir(dict))


class TemplateEnvironment(Environment):
    """Flask's Jinja environment, reading a dict's items without an exception."""

    def getattr(self, obj: t.Any, attribute: str) -> t.Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


class Portal(Flask):
    """The portal application (see the module's docstring)."""

    jinja_environment = TemplateEnvironment

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[tuple[t.Any, ...], dict[tuple[t.Any, ...], str]] = {}
        """Host, root, scheme, subdomain -> the URLs kept for them."""
        self._sync: set[t.Callable[..., t.Any]] = set()
        self.session_interface = SessionInterface()

    def preprocess_request(self) -> t.Any:
        # Where Flask sends its own request_started (just before this).
        signals.request_started.send(self)
        return super().preprocess_request()

    def process_response(self, response: Response) -> Response:
        response = super().process_response(response)
        # Where Flask sends its own request_finished (just after this).
        signals.request_finished.send(self, response=response)
        return response

    def ensure_sync(self, func: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
        known = self._sync
        if func in known:
            return func
        made = super().ensure_sync(func)
        if made is func and type(func) is FunctionType:  # others may be made anew each time
            if len(known) >= MAX_SYNC:
                known.clear()
            known.add(func)
        return made

    def url_for(
        self,
        /,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: t.Any,
    ) -> str:
        context = _cv_request.get(None)
        urls: dict[tuple[t.Any, ...], str] | None = None
        if context is not None and not self.url_default_functions:
            kept: t.Any = context.__dict__.get(_URLS_OF_REQUEST)
            urls = kept if kept is not None else self._urls_for(context)
        key = None
        if urls is not None:
            for value in values.values():
                if type(value) not in _PLAIN:
                    break
            else:
                key = (
                    endpoint,
                    context.request.blueprint if endpoint[:1] == "." else None,  # type: ignore[union-attr]
                    _anchor,
                    _method,
                    _scheme,
                    _external,
                    *values.items(),
                )
                url = urls.get(key)
                if url is not None:
                    return url
        url = super().url_for(
            endpoint,
            _anchor=_anchor,
            _method=_method,
            _scheme=_scheme,
            _external=_external,
            **values,
        )
        if key is not None and urls is not None:
            if len(urls) >= MAX_URLS:
                urls.clear()
            urls[key] = url
        return url

    def _urls_for(self, context: t.Any) -> dict[tuple[t.Any, ...], str] | None:
        """The URLs kept for the host, root, scheme and subdomain of the
        request of ``context``, remembered on the context for its next calls."""
        adapter = context.url_adapter
        if adapter is None:
            return None
        where = (adapter.server_name, adapter.script_name, adapter.url_scheme, adapter.subdomain)
        urls = self._urls.get(where)
        if urls is None:
            if len(self._urls) >= MAX_HOSTS:  # the host is the client's to choose
                self._urls.clear()
            urls = self._urls[where] = {}
        context.__dict__[_URLS_OF_REQUEST] = urls
        return urls


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the serializer made once per key,
    no cookie parsing for a request that sent no cookie and nothing read to
    save an empty session left as it was."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: tuple[tuple[t.Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        made = self._made
        if made is not None and made[0] == keys:
            return made[1]
        with self._lock:
            serializer = super().get_signing_serializer(app)
            self._made = (keys, serializer)
        return serializer

    def open_session(self, app: Flask, request: t.Any) -> t.Any:
        if "HTTP_COOKIE" in request.environ:
            return super().open_session(app, request)
        # No cookie sent: Flask's new session, without parsing the cookies.
        return None if self.get_signing_serializer(app) is None else self.session_class()

    def save_session(self, app: Flask, session: t.Any, response: Response) -> None:
        if session or session.modified:
            super().save_session(app, session, response)
            return
        # An empty session left as it was sets no cookie: Flask's answer
        # without reading the cookie settings, and Vary set without parsing it.
        if session.accessed:
            if "Vary" in response.headers:
                response.vary.add("Cookie")
            else:
                response.headers["Vary"] = "Cookie"
