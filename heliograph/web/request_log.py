"""A WSGI middleware that logs each request as one line: method, path (with
the query string), status and the time the application took, to the logger
``heliograph.requests`` at INFO. ``heliograph serve`` puts it around the
portal. The query string is logged as sent, except the values of parameters
that may carry secrets (``key``, ``token``, ``password``...), shown as ``***``.
"""

from __future__ import annotations

import collections.abc as c
import logging
import time
import typing as t
from urllib.parse import parse_qsl, urlencode

log = logging.getLogger("heliograph.requests")

SECRET_PARAMETERS = frozenset({"key", "token", "password", "api_key", "apikey", "secret"})

StartResponse = c.Callable[..., t.Any]
WSGIApp = c.Callable[[dict[str, t.Any], StartResponse], c.Iterable[bytes]]


def _shown_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    masked = [(k, "***" if k.lower() in SECRET_PARAMETERS else v) for k, v in pairs]
    return "?" + urlencode(masked, safe="/:,*")


class RequestLog:
    """``RequestLog(app)`` is ``app``, logging every request it answers."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, t.Any], start_response: StartResponse) -> t.Any:
        started = time.perf_counter()
        status: list[str] = []

        def recording_start_response(code: str, headers: t.Any, *args: t.Any) -> t.Any:
            status[:] = [code.split(" ", 1)[0]]
            return start_response(code, headers, *args)

        try:
            return self.app(environ, recording_start_response)
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            log.info(
                "%s %s%s %s %.1f ms",
                environ.get("REQUEST_METHOD", "-"),
                path,
                _shown_query(environ.get("QUERY_STRING", "")),
                status[0] if status else "-",
                elapsed,
            )
