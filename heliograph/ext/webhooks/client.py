"""Outgoing requests that are safe to make to a URL a user gave.

- only ``https://`` (and ``http://`` when ``heliograph.webhooks.allow_http``);
  no user name or password in the URL; proxies and ``.netrc`` of the
  environment are not used;
- the host is resolved when the connection is opened and every address is
  checked: loopback, private, link-local (cloud metadata), shared, reserved
  and multicast addresses are refused unless ``heliograph.webhooks.allowed_networks``
  lists them. The connection goes to the address that was checked (no second
  lookup a DNS rebinding could answer differently); TLS still verifies the
  certificate against the host name;
- redirects are never followed (a 3xx is the answer), at most
  ``max_response_bytes`` (64 KB) of a response are read, and every socket
  operation times out after ``timeout_seconds``.

Each thread keeps its own urllib3 pool manager (``requests``' transport,
without ``requests``' session machinery: about half the time of a
``requests`` POST on loopback), so connections to a receiver are kept alive
and reused from one delivery to the next; no cookie is kept, so nothing a
receiver sets reaches another hook. Certificates are checked against
certifi's bundle, as ``requests`` checks them.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import typing as t
import urllib.parse
from dataclasses import dataclass

import certifi
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util import connection as urllib3_connection

from heliograph.ext.webhooks import settings as webhook_settings
from heliograph.ext.webhooks.settings import Settings

EXCERPT_CHARS = 1000
"""How much of a response body the delivery log keeps."""


class Refused(ValueError):
    """The URL or the address it resolves to is not allowed; the message says why."""


def check_url(url: t.Any, config: Settings | None = None) -> str:
    """``url`` when a hook may be given it; raises :class:`Refused` saying why not.
    (The addresses are checked when a connection is opened.)"""
    config = config or webhook_settings.current()
    if not isinstance(url, str) or not url.strip():
        raise Refused("Missing value")
    url = url.strip()
    if len(url) > 2000:
        raise Refused("Must be at most 2000 characters long")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise Refused(f"Not a valid URL ({exc})") from None
    schemes = ("https", "http") if config.allow_http else ("https",)
    if parts.scheme not in schemes:
        allowed = " or ".join(f"{s}://" for s in schemes)
        raise Refused(f"Must start with {allowed}")
    if not parts.hostname:
        raise Refused("Must name a host")
    if parts.username is not None or parts.password is not None:
        raise Refused("Must not carry a user name or password")
    literal = _literal(parts.hostname)
    if literal is not None and not address_allowed(literal, config):
        raise Refused(f"The address {literal} is not allowed (internal network)")
    return str(url)


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def address_allowed(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | str, config: Settings | None = None
) -> bool:
    """Whether a connection may go to ``address``: a global unicast address, or
    one of ``allowed_networks``."""
    config = config or webhook_settings.current()
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip.version == net.version and ip in net for net in config.allowed_networks):
        return True
    return bool(ip.is_global) and not ip.is_multicast


def _checked_address(host: str, port: int) -> tuple[str, int]:
    """The first address of ``host`` a connection may go to; :class:`Refused` when none."""
    config = webhook_settings.current()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Refused(f"The host {host} could not be resolved ({exc.strerror})") from None
    refused: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address_allowed(address, config):
            return address, port
        refused.append(address)
    shown = ", ".join(dict.fromkeys(refused))
    raise Refused(f"The host {host} resolves to {shown}, which is not allowed (internal network)")


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        address = _checked_address(self._dns_host, self.port)
        try:
            return urllib3_connection.create_connection(
                address,
                self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except TimeoutError as exc:
            raise urllib3.exceptions.ConnectTimeoutError(
                self, f"connecting to {self.host} timed out"
            ) from exc
        except OSError as exc:
            raise urllib3.exceptions.NewConnectionError(
                self, f"could not connect to {self.host}: {exc}"
            ) from exc


class _GuardedHTTPSConnection(HTTPSConnection):
    _new_conn = _GuardedHTTPConnection._new_conn


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


def _pool_manager() -> urllib3.PoolManager:
    """Pools whose connections check the addresses they go to; no proxy (the
    environment's are never read), no retry, no redirect followed."""
    manager = urllib3.PoolManager(
        num_pools=32, maxsize=4, retries=False, cert_reqs="CERT_REQUIRED", ca_certs=certifi.where()
    )
    manager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}
    return manager


_local = threading.local()


class _Thread:
    """One thread's connection pools (kept alive between deliveries) and the
    URLs checked, for one version of the settings (a new one when they
    change, so no connection outlives them)."""

    def __init__(self, config: Settings) -> None:
        self.config = config
        self.pools = _pool_manager()
        self.timeout = urllib3.Timeout(connect=config.timeout_seconds, read=config.timeout_seconds)
        self.checked: set[str] = set()

    def check(self, url: str) -> None:
        if url not in self.checked:
            check_url(url, self.config)
            if len(self.checked) >= 1024:
                self.checked.clear()
            self.checked.add(url)

    def close(self) -> None:
        self.pools.clear()


def _thread(config: Settings) -> _Thread:
    found: _Thread | None = getattr(_local, "state", None)
    if found is None or found.config is not config:
        if found is not None:
            found.close()
        found = _local.state = _Thread(config)
    return found


@dataclass(frozen=True)
class Response:
    """What one attempt gave: ``status`` None when no HTTP answer came."""

    status: int | None
    duration_ms: float
    excerpt: str | None = None
    error: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(
    url: str, body: bytes, headers: dict[str, str], config: Settings | None = None
) -> Response:
    """POST ``body`` to ``url`` safely (see the module's notes); never raises
    for what the receiver or the network does."""
    config = config or webhook_settings.current()
    started = time.perf_counter()
    try:
        state = _thread(config)
        state.check(url)
        answer = state.pools.urlopen(
            "POST",
            url,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            timeout=state.timeout,
            preload_content=False,
        )
    except Refused as exc:
        return Response(None, _ms(started), error=f"Refused: {exc}")
    except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError, for history
        return Response(None, _ms(started), error=_connection_error(exc))
    except urllib3.exceptions.TimeoutError:
        return Response(
            None, _ms(started), error=f"Timed out after {config.timeout_seconds:g} seconds"
        )
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Response(None, _ms(started), error=_connection_error(exc))
    try:
        content, error = _read(answer, config.max_response_bytes)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        answer.close()
        return Response(answer.status, _ms(started), error=_connection_error(exc))
    excerpt = content[:EXCERPT_CHARS].decode("utf-8", "replace") if content else ""
    return Response(
        answer.status,
        _ms(started),
        excerpt=excerpt,
        error=error,
        retry_after=_retry_after(answer.headers.get("retry-after")),
    )


def _read(answer: urllib3.BaseHTTPResponse, limit: int) -> tuple[bytes, str | None]:
    """At most ``limit`` bytes of the body (decoded, as it was sent); a
    longer body is cut and the connection dropped, a whole one leaves the
    connection to the next delivery."""
    content = answer.read(limit + 1)
    if len(content) > limit:
        answer.close()
        return content[:limit], f"The response was cut at {limit} bytes"
    answer.release_conn()
    return content, None


def _connection_error(exc: BaseException) -> str:
    """What went wrong, from the innermost error (a refusal, or the socket's)."""
    seen: set[int] = set()
    stack: list[t.Any] = [exc]
    reason = ""
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Refused):
            return f"Refused: {item}"
        if isinstance(item, OSError) and item.strerror:
            reason = item.strerror
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None)])
        stack.extend(arg for arg in item.args if isinstance(arg, BaseException))
    return f"Connection failed: {reason or type(exc).__name__}"


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (a number, or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)
