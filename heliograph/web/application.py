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
from types import FunctionType, MethodType

from flask import Flask, Response
from flask.ctx import RequestContext
from flask.globals import _cv_request
from flask.sessions import SecureCookieSessionInterface
from flask.templating import Environment
from itsdangerous import URLSafeTimedSerializer
from jinja2.runtime import Context
from werkzeug.routing import MapAdapter

from heliograph.lib import signals

__all__ = [
    "MAX_BINDS",
    "MAX_HOSTS",
    "MAX_MATCHES",
    "MAX_PLAIN_CALLABLES",
    "MAX_SYNC",
    "MAX_URLS",
    "Portal",
    "PortalRequestContext",
    "SessionInterface",
    "TemplateContext",
    "TemplateEnvironment",
]

MAX_URLS = 4096
"""URLs kept by :meth:`Portal.url_for` per host before they are forgotten."""
MAX_HOSTS = 64
"""Hosts (with root, scheme, subdomain) whose URLs are kept at once."""
_URLS_OF_REQUEST = "heliograph_urls"
MAX_BINDS = 64
"""Hosts (Host header, server name and port, scheme) whose binding is kept."""
MAX_MATCHES = 4096
"""Matched URLs kept by :class:`PortalRequestContext` before they are forgotten."""
MAX_SYNC = 1024
"""Functions :meth:`Portal.ensure_sync` remembers before it forgets them all."""

_PLAIN = frozenset({str, int, type(None)})
_DICT_ATTRIBUTES = frozenset(dir(dict))


MAX_PLAIN_CALLABLES = 1024
"""Functions :class:`TemplateContext` remembers as taking no context."""
_plain_callables: set[t.Callable[..., t.Any]] = set()


_LONG_LIVED_CELLS = ((), ("__class__",))
"""The free variables of a function that lives as long as its module or
class: none, or the class a method calls ``super()`` in."""


def _plain_function(obj: t.Any) -> t.Any:
    """The function Jinja would call with no context, eval context or
    environment first (see ``Context.call``) when ``obj`` is one, or is a
    method of one: a function of no closure but its class (so that it lives
    as long as its module or class) without ``jinja_pass_arg``. Else None."""
    function = obj.__func__ if type(obj) is MethodType else obj
    if (
        type(function) is FunctionType
        and function.__code__.co_freevars in _LONG_LIVED_CELLS
        and not hasattr(function, "jinja_pass_arg")  # a method reads its function's
    ):
        return function
    return None


class TemplateContext(Context):
    """Jinja's context, calling a plain function (or a method of one) without
    asking again, on every call, whether it takes a context."""

    def call(__self, __obj: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        function = __obj.__func__ if type(__obj) is MethodType else __obj
        if type(function) is not FunctionType or function not in _plain_callables:
            if _plain_function(__obj) is None:
                return super().call(__obj, *args, **kwargs)
            if len(_plain_callables) >= MAX_PLAIN_CALLABLES:
                _plain_callables.clear()
            _plain_callables.add(function)
        kwargs.pop("_block_vars", None)
        kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


class TemplateEnvironment(Environment):
    """Flask's Jinja environment, reading a dict's items without an exception
    and calling plain functions through :class:`TemplateContext`."""

    context_class = TemplateContext

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
        self._binds: dict[tuple[t.Any, ...], tuple[str, str]] = {}
        """Host header, server name and port, scheme -> request host, bound name."""
        self._matches: dict[tuple[str, ...], tuple[t.Any, dict[str, t.Any]]] = {}
        """Bound name, root, scheme, path and method -> the rule and arguments."""
        self._matchable: bool | None = None
        self.session_interface = SessionInterface()

    def request_context(self, environ: dict[str, t.Any]) -> RequestContext:
        return PortalRequestContext(self, environ)

    def create_url_adapter(self, request: t.Any) -> MapAdapter | None:
        config = self.config
        if (
            request is None
            or config["TRUSTED_HOSTS"] is not None
            or config["SERVER_NAME"] is not None
            or self.url_map.host_matching
            or self.subdomain_matching
        ):
            return super().create_url_adapter(request)
        environ = request.environ
        if "HTTP_UPGRADE" in environ:
            return super().create_url_adapter(request)
        key = (
            environ.get("HTTP_HOST"),
            environ.get("SERVER_NAME"),
            environ.get("SERVER_PORT"),
            environ["wsgi.url_scheme"],
        )
        bound = self._binds.get(key)
        if bound is None:
            adapter = super().create_url_adapter(request)  # raises for a bad host
            if adapter is not None:
                if len(self._binds) >= MAX_BINDS:
                    self._binds.clear()
                self._binds[key] = (request.host, adapter.server_name)
            return adapter
        # What Flask and werkzeug work out from the same environ (see
        # Map.bind_to_environ and Map.bind), the host part kept.
        request.host = bound[0]
        script_name = environ.get("SCRIPT_NAME")
        path_info = environ.get("PATH_INFO")
        query_args = environ.get("QUERY_STRING")
        return MapAdapter(
            self.url_map,
            bound[1],
            "/" if script_name is None else _wsgi_text(script_name),
            self.url_map.default_subdomain or "",
            key[3],
            "/" if path_info is None else _wsgi_text(path_info),
            environ["REQUEST_METHOD"],
            None if query_args is None else _wsgi_text(query_args),
        )

    def matchable(self) -> bool:
        """Whether a match may be kept: every converter of the URL map is one
        of werkzeug's own (a plugin's converter might answer otherwise another
        time), and no rule redirects or matches by host."""
        if self._matchable is None:
            self._matchable = all(_plain_rule(rule) for rule in self.url_map.iter_rules())
        return self._matchable

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
        # A method is a coroutine function exactly when its function is.
        function = func.__func__ if type(func) is MethodType else func
        if function in known:
            return func
        made = super().ensure_sync(func)
        if made is func and type(function) is FunctionType:  # others may be made anew
            if len(known) >= MAX_SYNC:
                known.clear()
            known.add(function)
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


def _plain_rule(rule: t.Any) -> bool:
    converters = getattr(rule, "_converters", None)
    return (
        converters is not None
        and not rule.redirect_to
        and not rule.host
        and all(type(c).__module__ == "werkzeug.routing.converters" for c in converters.values())
    )


def _wsgi_text(value: str) -> str:
    """A WSGI environ string as text (werkzeug reads it the same way)."""
    return value.encode("latin1").decode(errors="replace")


class PortalRequestContext(RequestContext):
    """Flask's request context, keeping the URLs it matched: a match depends
    on the URL map (fixed once the app serves), the bound host name, root,
    scheme, path and method, and on nothing else while
    :meth:`Portal.matchable`. Only matches are kept; a URL that raises (not
    found, a redirect, a method not allowed) is matched again each time."""

    app: Portal

    def match_request(self) -> None:
        adapter = self.url_adapter
        app = self.app
        if adapter is None or not app.matchable():
            super().match_request()
            return
        key = (
            adapter.server_name,
            adapter.script_name,
            adapter.url_scheme,
            adapter.path_info,
            adapter.default_method or "GET",
        )
        kept = app._matches.get(key)
        if kept is not None:
            self.request.url_rule, args = kept
            self.request.view_args = dict(args)
            return
        super().match_request()
        request = self.request
        if request.routing_exception is None and request.url_rule is not None:
            matches = app._matches
            if len(matches) >= MAX_MATCHES:
                matches.clear()
            matches[key] = (request.url_rule, dict(request.view_args or {}))


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
