"""Tests for browserfleet.node.egress: policy, plain HTTP / CONNECT / WebSocket proxying, accounting.

Everything runs on 127.0.0.1. Refused destinations (10.x, 169.254.x, ...) are only ever asserted to be
refused: a recording :class:`Upstream` proves the proxy never tried to connect to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import h11
import httpx
import pytest

from browserfleet.node.egress import (
    EGRESS_HEADER,
    BlockedAttempt,
    DirectUpstream,
    EgressChannel,
    EgressPolicy,
    EgressProxy,
    IPAddress,
    Upstream,
    UpstreamStreams,
    classify_address,
)
from browserfleet.settings import CHROMIUM_FLAGS
from tests.support._ports import free_port

BIG = bytes(range(256)) * 4096  # 1 MiB
PAGE = b"""<!doctype html><html><head><title>egress</title>
<link rel="stylesheet" href="/style.css"><script src="/app.js"></script></head>
<body><h1 id="title">served through the egress proxy</h1><img src="/img.svg" width="8" height="8"></body>
</html>"""
ASSETS: dict[str, tuple[bytes, bytes]] = {
    "/page.html": (b"text/html; charset=utf-8", PAGE),
    "/style.css": (b"text/css", b"h1 { color: rgb(1, 2, 3); }" + b" " * 4000),
    "/app.js": (b"application/javascript", b"window.fromScript = 42;" + b" " * 4000),
    "/img.svg": (
        b"image/svg+xml",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>',
    ),
}

RAW_RESPONSES: dict[str, bytes] = {
    # close-delimited body: no Content-Length, no chunking
    "/close": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
    + b"closing-body " * 1000,
    # announces 100 bytes, sends 10, closes
    "/truncated": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
}

# --------------------------------------------------------------------------------------------
# Local servers
# --------------------------------------------------------------------------------------------


class _TcpServer:
    """A 127.0.0.1 TCP server whose close() also ends every open connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            await self.serve(reader, writer)
        except (OSError, h11.ProtocolError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()
            self._tasks.discard(task)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class EchoServer(_TcpServer):
    """Echoes every byte back."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


@dataclass
class Seen:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class Origin(_TcpServer):
    """A tiny HTTP/1.1 origin (h11) recording every request it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Seen] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            request, body = await _read_message(conn, reader)
            if not isinstance(request, h11.Request):
                return
            seen = Seen(
                request.method.decode(),
                request.target.decode(),
                {name.decode(): value.decode() for name, value in request.headers},
                body,
            )
            self.requests.append(seen)
            if not await self._respond(conn, reader, writer, seen):
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _respond(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: Seen
    ) -> bool:
        path = seen.target
        if path in RAW_RESPONSES:  # written verbatim, then the connection is closed
            writer.write(RAW_RESPONSES[path])
            await writer.drain()
            return False
        if path == "/ws":
            await self._websocket(conn, reader, writer)
            return False
        if path == "/chunked":
            await _send(
                writer, conn, h11.Response(status_code=200, headers=[(b"Content-Type", b"text/plain")])
            )
            for part in (b"first,", b"second,", b"third"):
                await _send(writer, conn, h11.Data(data=part))
            await _send(writer, conn, h11.EndOfMessage())
            return True
        if path == "/hop-by-hop":
            headers = [
                (b"Content-Length", b"2"),
                (b"Keep-Alive", b"timeout=5"),
                (b"Connection", b"X-Secret"),
                (b"X-Secret", b"hidden"),
                (b"X-Visible", b"yes"),
            ]
            await _send_all(writer, conn, 200, headers, b"ok")
            return True
        if path == "/drop":  # a complete response, then the server silently closes the connection
            await _send_all(writer, conn, 200, [(b"Content-Length", b"4")], b"drop")
            return False
        content_type, body = ASSETS.get(path, (b"text/plain", b"hello from " + path.encode()))
        if path == "/big":
            body = BIG
        elif path == "/echo":
            body = seen.body
        headers = [(b"Content-Type", content_type), (b"Content-Length", str(len(body)).encode())]
        await _send_all(writer, conn, 200, headers, b"" if seen.method == "HEAD" else body)
        return True

    async def _websocket(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            b"server-hello"
        )
        if conn.trailing_data[0]:
            writer.write(conn.trailing_data[0])
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()


async def _read_message(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request | h11.Response | None, bytes]:
    """Read one request/response (head + body) with ``conn``; (None, b"") when the peer closed."""
    head: h11.Request | h11.Response | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request | h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage) or (head is not None and event is h11.PAUSED):
            return head, bytes(body)
        else:
            return None, b""


async def _send(writer: asyncio.StreamWriter, conn: h11.Connection, event: h11.Event) -> None:
    data = conn.send(event)
    if data:
        writer.write(data)
        await writer.drain()


async def _send_all(
    writer: asyncio.StreamWriter,
    conn: h11.Connection,
    status: int,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
) -> None:
    await _send(writer, conn, h11.Response(status_code=status, headers=headers))
    if body:
        await _send(writer, conn, h11.Data(data=body))
    await _send(writer, conn, h11.EndOfMessage())


class ProxyClient:
    """A raw HTTP/1.1 connection to a proxy channel, driven by an h11 client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(h11.CLIENT)

    @classmethod
    async def open(cls, channel: EgressChannel) -> ProxyClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", channel.port)
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.transport.abort()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def request(
        self, method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b""
    ) -> tuple[h11.Response, bytes]:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        host = target.split("/")[2] if "://" in target else target
        all_headers = [("Host", host), *(headers or [])]
        if body:
            all_headers.append(("Content-Length", str(len(body))))
        await _send(self.writer, self.conn, h11.Request(method=method, target=target, headers=all_headers))
        if body:
            await _send(self.writer, self.conn, h11.Data(data=body))
        await _send(self.writer, self.conn, h11.EndOfMessage())
        response, data = await asyncio.wait_for(_read_message(self.conn, self.reader), 5)
        assert isinstance(response, h11.Response), response
        return response, data

    def tunnel_leftover(self) -> bytes:
        return self.conn.trailing_data[0]


def header(response: h11.Response, name: str) -> str | None:
    wanted = name.lower().encode()
    values = [value.decode() for key, value in response.headers if key == wanted]
    return ", ".join(values) if values else None


class RecordingUpstream(Upstream):
    """The seam, used to prove which destinations the proxy actually connected to."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int]] = []

    async def connect(self, host: str, ip: IPAddress, port: int) -> UpstreamStreams:
        self.calls.append((host, str(ip), port))
        return await DirectUpstream().connect(host, ip, port)


async def _eventually(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` for up to two seconds."""
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached within 2 s")


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    server = Origin()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    await server.start()
    yield server
    await server.close()


ProxyFactory = Callable[..., Awaitable[EgressProxy]]


@pytest.fixture
async def make_proxy() -> AsyncIterator[ProxyFactory]:
    proxies: list[EgressProxy] = []

    async def factory(*allow: str, allow_private: bool = False, connect_timeout: float = 2.0) -> EgressProxy:
        proxy = EgressProxy(EgressPolicy.from_strings(allow_private, allow), connect_timeout=connect_timeout)
        proxies.append(proxy)
        return proxy

    yield factory
    for proxy in proxies:
        await proxy.close()
        assert proxy.open_channels == 0


@pytest.fixture
async def loopback_channel(make_proxy: ProxyFactory) -> EgressChannel:
    """A channel whose policy allow-lists 127.0.0.1/32 (the local test servers)."""
    proxy = await make_proxy("127.0.0.1/32")
    return await proxy.open_channel("job-loopback")


def client_for(channel: EgressChannel) -> httpx.AsyncClient:
    return httpx.AsyncClient(proxy=channel.server_url, trust_env=False, timeout=5)


# --------------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private address"),
        ("172.16.5.4", "private address"),
        ("192.168.1.1", "private address"),
        ("127.0.0.1", "loopback address"),
        ("127.255.0.9", "loopback address"),
        ("169.254.169.254", "link-local/metadata address"),
        ("100.64.0.1", "shared (CGNAT) address"),
        ("0.0.0.0", "unspecified address"),
        ("0.1.2.3", "unspecified address"),
        ("224.0.0.1", "multicast address"),
        ("240.0.0.1", "reserved address"),
        ("255.255.255.255", "reserved address"),
        ("192.0.2.1", "reserved address"),
        ("::1", "loopback address"),
        ("::", "unspecified address"),
        ("fe80::1", "link-local/metadata address"),
        ("fd00:ec2::254", "link-local/metadata address"),
        ("fd12:3456::1", "private address"),
        ("fc00::1", "private address"),
        ("ff02::1", "multicast address"),
        ("::ffff:10.0.0.1", "private address"),
        ("::ffff:127.0.0.1", "loopback address"),
        ("::ffff:169.254.169.254", "link-local/metadata address"),
        ("64:ff9b::a9fe:a9fe", "link-local/metadata address"),
        ("2002:a00:1::1", "private address"),
        ("2001:db8::1", "reserved address"),
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("2606:4700::1111", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_default_policy_classification(address: str, reason: str | None) -> None:
    ip = ipaddress.ip_address(address)
    assert classify_address(ip) == reason
    policy = EgressPolicy()
    assert policy.reason_refused(ip) == reason
    assert policy.permits(ip) is (reason is None)
    assert EgressPolicy(allow_private_networks=True).permits(ip)


def test_allow_list_and_from_strings() -> None:
    policy = EgressPolicy.from_strings(
        False, ["127.0.0.1/32", " 10.1.0.0/16 ", "192.168.7.7", "", "fd00::/8"]
    )
    assert policy.allow == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.1.0.0/16"),
        ipaddress.ip_network("192.168.7.7/32"),
        ipaddress.ip_network("fd00::/8"),
    )
    ip = ipaddress.ip_address
    assert policy.permits(ip("127.0.0.1"))
    assert policy.permits(ip("::ffff:127.0.0.1"))  # mapped form of an allow-listed address
    assert policy.permits(ip("10.1.200.3"))
    assert policy.permits(ip("192.168.7.7"))
    assert policy.permits(ip("fd00::5"))
    assert policy.permits(ip("93.184.216.34"))
    assert policy.reason_refused(ip("127.0.0.2")) == "loopback address"
    assert policy.reason_refused(ip("10.2.0.1")) == "private address"
    assert policy.reason_refused(ip("169.254.169.254")) == "link-local/metadata address"
    assert policy.reason_refused(ip("::1")) == "loopback address"
    assert EgressPolicy.from_strings(False, ["10.1.2.3/16"]).allow == (ipaddress.ip_network("10.1.0.0/16"),)
    assert EgressPolicy.from_strings(True, []).allow_private_networks
    with pytest.raises(ValueError, match="not-a-network"):
        EgressPolicy.from_strings(False, ["not-a-network"])


# --------------------------------------------------------------------------------------------
# Plain HTTP
# --------------------------------------------------------------------------------------------


async def test_plain_get_and_post(loopback_channel: EgressChannel, origin: Origin) -> None:
    async with client_for(loopback_channel) as client:
        response = await client.get(f"{origin.url}/hello?x=1")
        assert response.status_code == 200
        assert response.text == "hello from /hello?x=1"
        payload = b"payload-" * 5000
        response = await client.post(f"{origin.url}/echo", content=payload)
        assert response.status_code == 200
        assert response.content == payload

    first, second = origin.requests
    assert (first.method, first.target) == ("GET", "/hello?x=1")  # rewritten to origin-form
    assert first.headers["host"] == f"127.0.0.1:{origin.port}"
    assert (second.method, second.target, second.body) == ("POST", "/echo", payload)
    stats = loopback_channel.stats
    assert stats.requests == 2
    assert stats.bytes_sent >= len(payload)
    assert stats.bytes_received >= len(payload) + len("hello from /hello?x=1")
    assert stats.blocked == [] and stats.upstream_errors == 0


async def test_request_target_is_forwarded_verbatim(loopback_channel: EgressChannel, origin: Origin) -> None:
    client = await ProxyClient.open(loopback_channel)
    try:
        for target in ("/q?a=%20b&c=%2F#frag", "/empty?", "?only-query"):
            response, _ = await client.request("GET", f"HTTP://127.0.0.1:{origin.port}{target}")
            assert response.status_code == 200
    finally:
        await client.close()
    assert [seen.target for seen in origin.requests] == ["/q?a=%20b&c=%2F", "/empty?", "/?only-query"]


async def test_keep_alive_across_requests_and_hosts(make_proxy: ProxyFactory, origin: Origin) -> None:
    other = Origin()
    await other.start()
    upstream = RecordingUpstream()
    channel = await (await make_proxy("127.0.0.1/32")).open_channel("job", upstream=upstream)
    client = await ProxyClient.open(channel)
    try:
        for path in ("/a", "/b"):
            response, body = await client.request(
                "GET", f"{origin.url}{path}", [("Proxy-Connection", "keep-alive")]
            )
            assert (response.status_code, body) == (200, b"hello from " + path.encode())
        response, body = await client.request("GET", f"{other.url}/c")
        assert (response.status_code, body) == (200, b"hello from /c")
        response, body = await client.request("GET", f"{origin.url}/d")
        assert (response.status_code, body) == (200, b"hello from /d")
    finally:
        await client.close()
        await other.close()
    assert [seen.target for seen in origin.requests] == ["/a", "/b", "/d"]
    assert all("proxy-connection" not in seen.headers for seen in origin.requests)
    # one browser connection; the upstream connection is reused for consecutive same-host requests
    assert origin.connections == 2 and other.connections == 1
    assert len(upstream.calls) == 3
    assert channel.stats.requests == 4


async def test_chunked_and_close_delimited_responses(loopback_channel: EgressChannel, origin: Origin) -> None:
    client = await ProxyClient.open(loopback_channel)
    try:
        response, body = await client.request("GET", f"{origin.url}/chunked")
        assert response.status_code == 200
        assert header(response, "transfer-encoding") == "chunked"
        assert body == b"first,second,third"
        response, body = await client.request("GET", f"{origin.url}/close")
        assert response.status_code == 200
        assert body == b"closing-body " * 1000
        # the upstream closed, but the browser-side connection stays usable (re-framed as chunked)
        assert header(response, "connection") is None
        response, body = await client.request("HEAD", f"{origin.url}/hello")
        assert (response.status_code, body) == (200, b"")
        assert header(response, "content-length") == str(len(b"hello from /hello"))
        response, body = await client.request("GET", f"{origin.url}/after")
        assert body == b"hello from /after"
    finally:
        await client.close()
    assert loopback_channel.stats.bytes_received >= 13000


async def test_hop_by_hop_headers_are_stripped(loopback_channel: EgressChannel, origin: Origin) -> None:
    client = await ProxyClient.open(loopback_channel)
    try:
        response, body = await client.request(
            "GET",
            f"{origin.url}/hop-by-hop",
            [
                ("Proxy-Connection", "keep-alive"),
                ("Proxy-Authorization", "Basic c2VjcmV0"),
                ("Connection", "keep-alive, X-Private"),
                ("X-Private", "1"),
                ("Keep-Alive", "timeout=3"),
                ("TE", "trailers"),
                ("Upgrade", "h2c"),
                ("X-End-To-End", "kept"),
            ],
        )
    finally:
        await client.close()
    assert (response.status_code, body) == (200, b"ok")
    assert header(response, "x-visible") == "yes"
    assert header(response, "x-secret") is None
    assert header(response, "keep-alive") is None
    (seen,) = origin.requests
    for name in (
        "proxy-connection",
        "proxy-authorization",
        "connection",
        "x-private",
        "keep-alive",
        "te",
        "upgrade",
    ):
        assert name not in seen.headers, name
    assert seen.headers["x-end-to-end"] == "kept"


async def test_large_body_both_ways(loopback_channel: EgressChannel, origin: Origin) -> None:
    async with client_for(loopback_channel) as client:
        response = await client.get(f"{origin.url}/big")
        assert response.content == BIG
        response = await client.post(f"{origin.url}/echo", content=BIG)
        assert response.content == BIG
    assert loopback_channel.stats.bytes_received >= 2 * len(BIG)
    assert loopback_channel.stats.bytes_sent >= len(BIG)


async def test_stale_upstream_connection_is_replaced(loopback_channel: EgressChannel, origin: Origin) -> None:
    client = await ProxyClient.open(loopback_channel)
    try:
        response, body = await client.request("GET", f"{origin.url}/drop")
        assert body == b"drop"
        await _eventually(lambda: origin.connections == 1 and not origin._tasks)
        await asyncio.sleep(0.05)
        response, body = await client.request("GET", f"{origin.url}/again")
        assert (response.status_code, body) == (200, b"hello from /again")
    finally:
        await client.close()
    assert origin.connections == 2


async def test_expect_100_continue(loopback_channel: EgressChannel, origin: Origin) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", loopback_channel.port)
    try:
        writer.write(
            f"POST {origin.url}/echo HTTP/1.1\r\nHost: 127.0.0.1:{origin.port}\r\n"
            "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 ")
        writer.write(b"hello")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"hello"
    finally:
        writer.close()
        await writer.wait_closed()
    (seen,) = origin.requests
    assert "expect" not in seen.headers and seen.body == b"hello"


async def test_truncated_upstream_response_drops_browser_connection(
    loopback_channel: EgressChannel, origin: Origin
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", loopback_channel.port)
    try:
        writer.write(f"GET {origin.url}/truncated HTTP/1.1\r\nHost: 127.0.0.1:{origin.port}\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 5)  # the proxy cannot finish the response: EOF
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and b"content-length: 100" in head.lower()
    assert body == b"0123456789"


async def test_blocked_attempts_are_capped(make_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("browserfleet.node.egress.dial.MAX_BLOCKED_RECORDED", 2)
    channel = await (await make_proxy()).open_channel("job")
    client = await ProxyClient.open(channel)
    try:
        for last_octet in range(1, 5):
            response, _ = await client.request("GET", f"http://10.0.0.{last_octet}/")
            assert response.status_code == 403
    finally:
        await client.close()
    assert [attempt.host for attempt in channel.stats.blocked] == ["10.0.0.1", "10.0.0.2"]
    assert channel.stats.blocked_dropped == 2


async def test_websocket_upgrade_is_tunnelled(loopback_channel: EgressChannel, origin: Origin) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", loopback_channel.port)
    try:
        writer.write(
            f"GET ws://127.0.0.1:{origin.port}/ws HTTP/1.1\r\nHost: 127.0.0.1:{origin.port}\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert b"upgrade: websocket" in head.lower()
        assert await asyncio.wait_for(reader.readexactly(len(b"server-hello")), 5) == b"server-hello"
        writer.write(b"\x81\x05hello")
        assert await asyncio.wait_for(reader.readexactly(7), 5) == b"\x81\x05hello"
    finally:
        writer.close()
        await writer.wait_closed()
    (seen,) = origin.requests
    assert seen.target == "/ws"
    assert seen.headers["upgrade"] == "websocket"
    assert seen.headers["connection"].lower() == "upgrade"
    assert loopback_channel.stats.requests == 1


async def test_non_proxy_and_malformed_requests_get_400(loopback_channel: EgressChannel) -> None:
    client = await ProxyClient.open(loopback_channel)
    try:
        response, _ = await client.request("GET", "/not-absolute")
        assert response.status_code == 400
        assert header(response, EGRESS_HEADER) == "bad-request"
        response, _ = await client.request("GET", "https://127.0.0.1/")  # https must use CONNECT
        assert response.status_code == 400
    finally:
        await client.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", loopback_channel.port)
    try:
        writer.write(b"THIS IS NOT HTTP\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), 5)
        assert data.startswith(b"HTTP/1.1 400 ")
    finally:
        writer.close()
        await writer.wait_closed()


# --------------------------------------------------------------------------------------------
# CONNECT
# --------------------------------------------------------------------------------------------


async def test_connect_tunnel(loopback_channel: EgressChannel, echo: EchoServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", loopback_channel.port)
    try:
        target = f"127.0.0.1:{echo.port}"
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        writer.write(BIG)
        assert await asyncio.wait_for(reader.readexactly(len(BIG)), 5) == BIG
        writer.write_eof()  # half-close travels through; the echo server closes; we see EOF
        assert await asyncio.wait_for(reader.read(), 5) == b""
    finally:
        writer.close()
        await writer.wait_closed()
    stats = loopback_channel.stats
    assert stats.requests == 1
    assert stats.bytes_sent >= len(BIG) + 4
    assert stats.bytes_received >= len(BIG) + 4
    await _eventually(lambda: loopback_channel.open_connections == 0)


async def test_connect_with_early_data(loopback_channel: EgressChannel, echo: EchoServer) -> None:
    """Bytes pipelined right behind the CONNECT head are forwarded, not lost."""
    reader, writer = await asyncio.open_connection("127.0.0.1", loopback_channel.port)
    try:
        target = f"127.0.0.1:{echo.port}"
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\nearly".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"early"
    finally:
        writer.close()
        await writer.wait_closed()


# --------------------------------------------------------------------------------------------
# Policy enforcement
# --------------------------------------------------------------------------------------------

REFUSED = [
    ("127.0.0.1", "127.0.0.1", "loopback address"),
    ("10.0.0.1", "10.0.0.1", "private address"),
    ("169.254.169.254", "169.254.169.254", "link-local/metadata address"),
    ("[::1]", "::1", "loopback address"),
    ("[::ffff:10.0.0.1]", "::ffff:a00:1", "private address"),
    ("100.64.0.1", "100.64.0.1", "shared (CGNAT) address"),
]


@pytest.mark.parametrize(("literal", "ip", "reason"), REFUSED)
async def test_default_policy_refuses_plain_http(
    make_proxy: ProxyFactory, origin: Origin, literal: str, ip: str, reason: str
) -> None:
    upstream = RecordingUpstream()
    channel = await (await make_proxy()).open_channel("job", upstream=upstream)
    client = await ProxyClient.open(channel)
    try:
        response, body = await client.request("GET", f"http://{literal}:{origin.port}/secret")
        assert response.status_code == 403
        assert header(response, EGRESS_HEADER) == "blocked"
        assert header(response, "content-type") == "text/plain; charset=utf-8"
        assert body == f"browserfleet: egress to {ip} ({ip}) is blocked by policy".encode()
        # the refusal keeps the browser connection alive for the next request
        response, _ = await client.request("GET", f"http://{literal}:{origin.port}/again")
        assert response.status_code == 403
    finally:
        await client.close()
    assert channel.blocked_host(literal) == BlockedAttempt(host=ip, port=origin.port, ip=ip, reason=reason)
    assert len(channel.stats.blocked) == 2
    assert upstream.calls == []  # never connected
    assert origin.connections == 0 and origin.requests == []
    assert channel.stats.requests == 0 and channel.stats.upstream_errors == 0
    assert channel.stats.bytes_sent == channel.stats.bytes_received == 0


@pytest.mark.parametrize(("literal", "ip", "reason"), REFUSED)
async def test_default_policy_refuses_connect(
    make_proxy: ProxyFactory, echo: EchoServer, literal: str, ip: str, reason: str
) -> None:
    upstream = RecordingUpstream()
    channel = await (await make_proxy()).open_channel("job", upstream=upstream)
    reader, writer = await asyncio.open_connection("127.0.0.1", channel.port)
    try:
        target = f"{literal}:{echo.port}"
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 5)  # answered, then closed
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert f"{EGRESS_HEADER}: blocked".encode() in head
    assert b"connection: close" in head.lower()
    assert body == f"browserfleet: egress to {ip} ({ip}) is blocked by policy".encode()
    assert channel.blocked_host(literal) == BlockedAttempt(host=ip, port=echo.port, ip=ip, reason=reason)
    assert upstream.calls == [] and echo.connections == 0


async def test_httpx_sees_refusal(make_proxy: ProxyFactory, origin: Origin) -> None:
    channel = await (await make_proxy()).open_channel("job")
    async with client_for(channel) as client:
        response = await client.get(f"{origin.url}/x")
        assert response.status_code == 403
        assert response.headers[EGRESS_HEADER] == "blocked"
        with pytest.raises(httpx.ProxyError):
            await client.get(f"https://127.0.0.1:{origin.port}/x")
    assert origin.connections == 0
    attempt = channel.blocked_host("127.0.0.1")
    assert attempt is not None and attempt.reason == "loopback address"


async def test_allow_private_networks_and_allow_list(
    make_proxy: ProxyFactory, origin: Origin, echo: EchoServer
) -> None:
    everything = await (await make_proxy(allow_private=True)).open_channel("job-a")
    allow_listed = await (await make_proxy("127.0.0.1/32")).open_channel("job-b")
    for channel in (everything, allow_listed):
        async with client_for(channel) as client:
            response = await client.get(f"{origin.url}/ok")
            assert (response.status_code, response.text) == (200, "hello from /ok")
        assert channel.stats.blocked == []
    # the allow-list opens exactly what it names
    upstream = RecordingUpstream()
    narrow = await (await make_proxy("127.0.0.1/32")).open_channel("job-c", upstream=upstream)
    raw = await ProxyClient.open(narrow)
    try:
        for literal in ("10.0.0.1", "127.0.0.2", "[::1]"):
            refused, _ = await raw.request("GET", f"http://{literal}:{origin.port}/")
            assert refused.status_code == 403
    finally:
        await raw.close()
    assert upstream.calls == []
    assert [attempt.host for attempt in narrow.stats.blocked] == ["10.0.0.1", "127.0.0.2", "::1"]


async def test_hostname_resolved_once_and_checked_ip_is_used(
    make_proxy: ProxyFactory, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name is resolved once; the proxy connects to the checked address."""
    loop = asyncio.get_running_loop()
    lookups: list[str] = []
    answers = {
        "rebind.test": ["10.0.0.1"],
        "metadata.test": ["169.254.169.254"],
        "mixed.test": ["10.0.0.1", "127.0.0.1"],
    }

    async def fake_getaddrinfo(host: str, port: int, **_: object) -> list[tuple[object, ...]]:
        lookups.append(host)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    upstream = RecordingUpstream()
    channel = await (await make_proxy("127.0.0.1/32")).open_channel("job", upstream=upstream)
    client = await ProxyClient.open(channel)
    try:
        response, body = await client.request("GET", f"http://rebind.test:{origin.port}/")
        assert response.status_code == 403
        assert body == b"browserfleet: egress to rebind.test (10.0.0.1) is blocked by policy"
        response, _ = await client.request("GET", f"http://metadata.test:{origin.port}/latest/meta-data/")
        assert response.status_code == 403
        response, body = await client.request("GET", f"http://mixed.test:{origin.port}/page")
        assert (response.status_code, body) == (200, b"hello from /page")
        response, body = await client.request("GET", f"http://nowhere.test:{origin.port}/")
        assert response.status_code == 502
        assert header(response, EGRESS_HEADER) == "upstream-error"
    finally:
        await client.close()
    assert lookups == ["rebind.test", "metadata.test", "mixed.test", "nowhere.test"]
    assert upstream.calls == [("mixed.test", "127.0.0.1", origin.port)]
    assert origin.requests[0].headers["host"] == f"mixed.test:{origin.port}"
    assert channel.blocked_host("REBIND.test") == BlockedAttempt(
        "rebind.test", origin.port, "10.0.0.1", "private address"
    )
    metadata = channel.blocked_host("metadata.test")
    assert metadata is not None and metadata.reason == "link-local/metadata address"
    assert channel.blocked_host("mixed.test") is None
    assert channel.stats.upstream_errors == 1


# --------------------------------------------------------------------------------------------
# Failures and lifecycle
# --------------------------------------------------------------------------------------------


async def test_upstream_refused_is_502_not_a_block(loopback_channel: EgressChannel) -> None:
    port = free_port()  # nothing listens there
    async with client_for(loopback_channel) as client:
        response = await client.get(f"http://127.0.0.1:{port}/")
        assert response.status_code == 502
        assert response.headers[EGRESS_HEADER] == "upstream-error"
        assert response.text.startswith(f"browserfleet: cannot reach 127.0.0.1:{port}")
    reader, writer = await asyncio.open_connection("127.0.0.1", loopback_channel.port)
    try:
        writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
        await writer.wait_closed()
    assert data.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
    assert f"{EGRESS_HEADER}: upstream-error".encode() in data
    assert loopback_channel.stats.upstream_errors == 2
    assert loopback_channel.stats.blocked == []
    assert loopback_channel.stats.requests == 0


async def test_connect_timeout_is_502(make_proxy: ProxyFactory) -> None:
    class Hanging(Upstream):
        async def connect(self, host: str, ip: IPAddress, port: int) -> UpstreamStreams:
            await asyncio.sleep(30)
            raise AssertionError("unreachable")

    proxy = await make_proxy("127.0.0.1/32", connect_timeout=0.2)
    channel = await proxy.open_channel("job", upstream=Hanging())
    client = await ProxyClient.open(channel)
    try:
        response, body = await client.request("GET", "http://127.0.0.1:9/")
    finally:
        await client.close()
    assert response.status_code == 502
    assert b"timed out" in body
    assert channel.stats.upstream_errors == 1


async def test_closing_channel_drops_connections_and_listener(
    make_proxy: ProxyFactory, origin: Origin, echo: EchoServer
) -> None:
    proxy = await make_proxy("127.0.0.1/32")
    channel = await proxy.open_channel("job-1")
    other = await proxy.open_channel("job-1")  # a second browser context of the same job
    assert proxy.open_channels == 2 and channel.port != other.port
    idle = await ProxyClient.open(channel)
    response, _ = await idle.request("GET", f"{origin.url}/warm")
    assert response.status_code == 200
    reader, writer = await asyncio.open_connection("127.0.0.1", channel.port)
    target = f"127.0.0.1:{echo.port}"
    writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    await _eventually(lambda: echo.connections == 1)
    assert channel.open_connections == 2

    async with asyncio.timeout(2):
        await channel.close()
    try:
        assert channel.closed and channel.open_connections == 0
        assert proxy.open_channels == 1
        assert await asyncio.wait_for(reader.read(), 2) == b""  # the tunnel was cut
        assert await asyncio.wait_for(idle.reader.read(), 2) == b""  # so was the idle keep-alive
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", channel.port)
        await channel.close()  # idempotent
    finally:
        await idle.close()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    await proxy.close()
    assert proxy.open_channels == 0 and other.closed
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", other.port)
    with pytest.raises(RuntimeError):
        await proxy.open_channel("job-2")


# --------------------------------------------------------------------------------------------
# Real browser
# --------------------------------------------------------------------------------------------

CHROMIUM = "/usr/lib/chromium/chromium-headless-shell"
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)


@pytest.mark.browser
async def test_chromium_through_channel(make_proxy: ProxyFactory, origin: Origin) -> None:
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    allowed = await (await make_proxy("127.0.0.1/32")).open_channel("job-allowed")
    refused = await (await make_proxy()).open_channel("job-refused")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(proxy={"server": allowed.server_url})
            page = await context.new_page()
            response = await page.goto(f"{origin.url}/page.html", wait_until="load")
            assert response is not None and response.status == 200
            assert await page.text_content("#title") == "served through the egress proxy"
            assert await page.evaluate("window.fromScript") == 42
            assert (
                await page.evaluate("getComputedStyle(document.querySelector('h1')).color") == "rgb(1, 2, 3)"
            )
            await context.close()

            context = await browser.new_context(proxy={"server": refused.server_url})
            page = await context.new_page()
            with pytest.raises(PlaywrightError, match="ERR_TUNNEL_CONNECTION_FAILED"):
                await page.goto(f"https://127.0.0.1:{origin.port}/page.html")
            page = await context.new_page()  # plain http: the browser shows the proxy's 403 page
            response = await page.goto(f"{origin.url}/page.html")
            assert response is not None and response.status == 403
            assert await response.header_value(EGRESS_HEADER) == "blocked"
            await context.close()
        finally:
            await browser.close()

    served = {seen.target for seen in origin.requests}
    assert {"/page.html", "/style.css", "/app.js", "/img.svg"} <= served
    page_bytes = sum(len(body) for _, body in ASSETS.values())
    assert allowed.stats.bytes_received > page_bytes
    assert allowed.stats.requests >= 4
    assert allowed.stats.blocked == []
    attempt = refused.blocked_host("127.0.0.1")
    assert attempt is not None and attempt.reason == "loopback address"
    assert refused.stats.bytes_received == 0
