"""Reaching a destination through an upstream proxy: :func:`open_via` and :class:`ProxyUpstream`.

``http://`` and ``https://`` proxies get a ``CONNECT host:port`` (after TLS to the proxy for
``https://``), with ``Proxy-Authorization: Basic`` when the proxy has credentials; plain-HTTP
requests of the browser are sent through such a tunnel too, in origin form. ``socks5://`` proxies
are spoken to with :mod:`python_socks` (username/password auth, remote DNS).

The egress policy has already been checked by the channel (the node resolved the destination and
checked every address) before :meth:`ProxyUpstream.connect` runs. By default the proxy is given
the *hostname* the browser asked for, so the exit resolves it in its own place (CDNs answer for
the exit's location); ``remote_dns: false`` on a proxy gives it the checked IP address instead.

Credentials exist only here, on the node: the browser talks to its egress channel, which never
forwards a browser's ``Proxy-Authorization`` (hop-by-hop) and never sees the upstream's.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from typing import Final

from python_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError, ProxyType
from python_socks.async_.asyncio import Proxy as SocksProxy

from browserfleet.core.geo import City
from browserfleet.node.egress import CHUNK_SIZE, IPAddress, Upstream, UpstreamStreams
from browserfleet.node.egress.streams import set_nodelay
from browserfleet.node.proxies.config import ProxyConfig
from browserfleet.node.proxies.pool import Assignment, ProxyPool

__all__ = ["DestinationUnreachable", "ProxyFailure", "ProxyUpstream", "open_via"]

logger = logging.getLogger(__name__)

MAX_CONNECT_RESPONSE: Final = 16 * 1024
# SOCKS5 replies that are about the destination, not the proxy: network/host unreachable,
# connection refused, TTL expired.
_SOCKS_DESTINATION_REPLIES: Final = frozenset({3, 4, 5, 6})


_GATEWAY_ERRORS = frozenset({502, 503, 504})


class ProxyFailure(OSError):
    """The upstream proxy itself failed: unreachable, TLS, authentication, protocol garbage."""


class DestinationUnreachable(OSError):
    """The proxy works but could not reach the destination (not held against the proxy)."""


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def open_via(
    assignment: Assignment, host: str, port: int, *, proxy_ip: str | None = None
) -> UpstreamStreams:
    """A byte stream to ``host:port`` through ``assignment``'s proxy.

    ``proxy_ip``: connect to the proxy at this (already checked) address instead of resolving its
    hostname again; TLS to an ``https://`` proxy still verifies the hostname.
    Raises :class:`ProxyFailure` or :class:`DestinationUnreachable` (both OSError).
    """
    proxy = assignment.proxy
    credentials = proxy.credentials(assignment.session)
    if proxy.scheme == "socks5":
        return await _open_socks5(proxy, credentials, host, port, proxy_ip)
    return await _open_connect(proxy, credentials, host, port, proxy_ip)


async def _open_connect(
    proxy: ProxyConfig, credentials: tuple[str, str] | None, host: str, port: int, proxy_ip: str | None = None
) -> UpstreamStreams:
    context: ssl.SSLContext | None = None
    if proxy.scheme == "https":
        context = ssl.create_default_context(cafile=str(proxy.ca_file) if proxy.ca_file else None)
    try:
        reader, writer = await asyncio.open_connection(
            proxy_ip or proxy.host,
            proxy.port,
            ssl=context,
            server_hostname=proxy.host if context else None,
            limit=CHUNK_SIZE,
        )
    except (OSError, ssl.SSLError) as exc:
        raise ProxyFailure(f"cannot connect to proxy {proxy.label}: {exc}") from exc
    set_nodelay(writer)
    ok = False
    try:
        target = _authority(host, port)
        head = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
        if credentials is not None:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode("ascii")
            head += f"Proxy-Authorization: Basic {token}\r\n"
        writer.write((head + "\r\n").encode("latin-1"))
        await writer.drain()
        status, reason = await _read_connect_response(proxy, reader)
        if status == 407:
            raise ProxyFailure(f"proxy {proxy.label} refused our credentials (407)")
        if status in _GATEWAY_ERRORS:  # the proxy works; it could not reach the destination
            raise DestinationUnreachable(
                f"proxy {proxy.label} answered CONNECT with {status} {reason}".strip()
            )
        if not 200 <= status < 300:  # anything else: the proxy itself refused or misbehaved
            raise ProxyFailure(f"proxy {proxy.label} answered CONNECT with {status} {reason}".strip())
        ok = True
        return reader, writer
    except (ConnectionError, ssl.SSLError) as exc:
        raise ProxyFailure(f"proxy {proxy.label} broke the connection: {exc}") from exc
    finally:
        if not ok:
            writer.transport.abort()


async def _read_connect_response(proxy: ProxyConfig, reader: asyncio.StreamReader) -> tuple[int, str]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise ProxyFailure(f"proxy {proxy.label} closed the connection before answering CONNECT") from exc
    except asyncio.LimitOverrunError as exc:
        raise ProxyFailure(f"proxy {proxy.label} sent an oversized CONNECT response") from exc
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ProxyFailure(f"proxy {proxy.label} sent a malformed CONNECT response: {status_line[:80]!r}")
    return int(parts[1]), parts[2] if len(parts) > 2 else ""


async def _open_socks5(
    proxy: ProxyConfig, credentials: tuple[str, str] | None, host: str, port: int, proxy_ip: str | None = None
) -> UpstreamStreams:
    user, password = credentials if credentials is not None else (None, None)
    socks = SocksProxy(ProxyType.SOCKS5, proxy_ip or proxy.host, proxy.port, user, password, rdns=True)
    try:
        sock = await socks.connect(host, port)
    except (ProxyConnectionError, ProxyTimeoutError) as exc:
        raise ProxyFailure(f"cannot connect to proxy {proxy.label}: {exc}") from exc
    except ProxyError as exc:
        if exc.error_code in _SOCKS_DESTINATION_REPLIES:
            raise DestinationUnreachable(f"proxy {proxy.label}: {exc}") from exc
        raise ProxyFailure(f"proxy {proxy.label}: {exc}") from exc
    try:
        reader, writer = await asyncio.open_connection(sock=sock, limit=CHUNK_SIZE)
    except BaseException:
        sock.close()
        raise
    set_nodelay(writer)
    return reader, writer


class ProxyUpstream(Upstream):
    """One job's exit through the pool: connects through the assigned proxy and, when that proxy
    fails, through another healthy one for the place (which becomes the sticky choice).

    ``served`` is the assignment currently in use; ``failovers`` counts switches. Each attempt
    through one proxy is bounded by ``attempt_timeout`` (a timeout counts as a proxy failure), so
    a black-holed proxy leaves time to try another within the channel's connect timeout.
    """

    tries_each_address = False  # the proxy is given one destination; it resolves or connects

    def __init__(
        self,
        pool: ProxyPool,
        project_id: str,
        city: City,
        assignment: Assignment,
        *,
        attempt_timeout: float,
    ) -> None:
        self.pool = pool
        self.project_id = project_id
        self.city = city
        self.served = assignment
        self.failovers = 0
        self.attempt_timeout = attempt_timeout

    @classmethod
    def for_job(
        cls, pool: ProxyPool, project_id: str, city: City, *, force_new: bool, attempt_timeout: float
    ) -> ProxyUpstream | None:
        """The exit for one job (see :meth:`ProxyPool.assign`); None when no proxy serves ``city``."""
        assignment = pool.assign(project_id, city, force_new=force_new)
        if assignment is None:
            return None
        return cls(pool, project_id, city, assignment, attempt_timeout=attempt_timeout)

    async def connect(self, host: str, ip: IPAddress, port: int) -> UpstreamStreams:
        """Open a stream to the destination through an exit proxy for the place (see class)."""
        tried: set[str] = set()
        assignment = self.served
        while True:
            proxy = assignment.proxy
            target = host if proxy.remote_dns else str(ip)
            try:
                async with asyncio.timeout(self.attempt_timeout):
                    streams = await open_via(assignment, target, port)
            except DestinationUnreachable:
                self.pool.record_success(proxy)  # the proxy answered: it is alive
                raise
            except OSError as exc:  # ProxyFailure, or TimeoutError of this attempt
                detail = str(exc) or f"timed out after {self.attempt_timeout:g}s"
                self.pool.record_failure(proxy, detail)
                tried.add(proxy.label)
                replacement = self.pool.reassign(self.project_id, self.city, tried)
                if replacement is None:
                    self.exhausted = True
                    raise ProxyFailure(f"no working exit proxy for {self.city.name}: {detail}") from exc
                logger.info(
                    "exit proxy %s failed (%s); using %s", proxy.label, detail, replacement.proxy.label
                )
                if self.served.proxy.label in tried:  # another connect may have switched already
                    self.served = replacement
                    self.failovers += 1
                assignment = replacement
                continue
            self.pool.record_success(proxy)
            return streams

    def describe(self) -> dict[str, object]:
        """What a result may show about the exit: name and place, never the URL or credentials."""
        proxy = self.served.proxy
        return {"proxy": proxy.label, "country": proxy.country, "city": proxy.city}
