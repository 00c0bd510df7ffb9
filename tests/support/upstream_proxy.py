"""Upstream forward proxies on 127.0.0.1 for the geo-proxy tests: real HTTP and SOCKS5 servers.

:class:`HttpProxyStandIn` speaks ``CONNECT host:port`` and absolute-form plain HTTP
(``GET http://host/path``), optionally requiring ``Proxy-Authorization: Basic``;
:class:`Socks5StandIn` speaks SOCKS5 ``CONNECT`` (no auth, or username/password). Both only ever
connect to loopback destinations (anything else gets a refusal), record what they were asked for,
sniff the request lines of plain HTTP inside their tunnels (so a test can tell which proxy carried
``/api/echo?t=TOKEN``) and count the bytes they relayed. Each runs on its own event loop thread, so
sync tests can start, stop and inspect it::

    with HttpProxyStandIn(username="u", password="p") as proxy:
        proxy.url                      # "http://u:p@127.0.0.1:PORT" (what to declare)
        proxy.kill(); proxy.revive()   # dead = every connection dropped unanswered, port kept
        proxy.stop(); proxy.start()    # stopped = nothing listens (the port may be reused meanwhile)
        proxy.connects, proxy.requests, proxy.bytes_down

Usernames are checked with ``user_pattern`` (a regex, full match) when given, so a sticky template
such as ``u-session-{session}`` can be accepted; ``users`` records every username presented.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
import ssl
import threading
from collections.abc import Coroutine
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_REQUEST_LINE = re.compile(rb"(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH) (\S+) HTTP/1\.[01]\r\n")
CHUNK = 64 * 1024


class _StandIn:
    scheme = "http"

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        user_pattern: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.tls = tls
        self.username = username
        self.password = password
        self.user_pattern = re.compile(user_pattern) if user_pattern else None
        self.port = 0
        self.attempts = 0  # client connections accepted
        self.connects: list[str] = []  # tunnel targets granted ("127.0.0.1:PORT")
        self.refused: list[str] = []  # why a client was turned away (auth, destination)
        self.requests: list[str] = []  # plain-HTTP request targets seen (absolute form or in tunnels)
        self.users: list[str] = []  # usernames presented
        self.bytes_down = 0  # destination -> client payload relayed
        self.bytes_up = 0  # client -> destination payload relayed
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="proxy-stand-in")
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self.dead = False

    # -- lifecycle ------------------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def start(self) -> Self:
        """Listen (again) on 127.0.0.1, on the same port after a :meth:`stop`."""
        self._run(self._start())
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._client, "127.0.0.1", self.port, limit=CHUNK, ssl=self.tls
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Stop listening and drop every connection: the port now refuses connections."""
        self._run(self._stop())

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        await self._drop_clients()

    def kill(self) -> None:
        """Play dead while keeping the port: every connection is dropped before a word is said
        (and not counted). Unlike :meth:`stop`, no other server can take the port meanwhile."""
        self.dead = True
        self._run(self._drop_clients())

    def revive(self) -> None:
        self.dead = False

    async def _drop_clients(self) -> None:
        clients = list(self._clients)
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The URL to declare, with credentials when the stand-in requires them."""
        auth = f"{self.username}:{self.password}@" if self.username is not None else ""
        scheme = "https" if self.tls is not None and self.scheme == "http" else self.scheme
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.attempts = self.bytes_down = self.bytes_up = 0
            self.connects.clear()
            self.refused.clear()
            self.requests.clear()
            self.users.clear()

    # -- shared plumbing ------------------------------------------------------------------------

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.dead:
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        with self._lock:
            self.attempts += 1
        try:
            await self._serve(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._clients.discard(task)
            writer.transport.abort()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    def _credentials_ok(self, user: str | None, password: str | None) -> bool:
        if user is not None:
            with self._lock:
                self.users.append(user)
        if self.username is None:
            return True
        if user is None or password != self.password:
            return False
        if self.user_pattern is not None:
            return self.user_pattern.fullmatch(user) is not None
        return user == self.username

    def _refuse(self, why: str) -> None:
        with self._lock:
            self.refused.append(why)

    async def _open_destination(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        if host.strip("[]") not in LOOPBACK:  # never anywhere but loopback
            self._refuse(f"destination {host}")
            return None
        try:
            return await asyncio.open_connection(host.strip("[]"), port, limit=CHUNK)
        except OSError:
            self._refuse(f"unreachable {host}:{port}")
            return None

    def _sniff(self, data: bytes) -> None:
        match = _REQUEST_LINE.match(data)
        if match:
            with self._lock:
                self.requests.append(match.group(2).decode("latin-1"))

    def _count(self, n: int, *, down: bool) -> None:
        with self._lock:
            if down:
                self.bytes_down += n
            else:
                self.bytes_up += n

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, down: bool) -> None:
            try:
                while data := await src.read(CHUNK):
                    if not down:
                        self._sniff(data)
                    self._count(len(data), down=down)
                    dst.write(data)
                    await dst.drain()
                if dst.can_write_eof():
                    dst.write_eof()
            except OSError:
                pass

        try:
            await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))
        finally:
            up_writer.transport.abort()


class HttpProxyStandIn(_StandIn):
    """An HTTP forward proxy: ``CONNECT`` tunnels and absolute-form plain HTTP (one per connection)."""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        user, password = _basic(headers.get("proxy-authorization"))
        if not self._credentials_ok(user, password):
            self._refuse("auth")
            writer.write(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                b'Proxy-Authenticate: Basic realm="stand-in"\r\nContent-Length: 0\r\n\r\n'
            )
            await writer.drain()
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            opened = await self._open_destination(host, int(port))
            if opened is None:
                writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            with self._lock:
                self.connects.append(target)
            writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            await self._pipe(reader, writer, *opened)
            return
        await self._forward_absolute(method, target, lines, reader, writer)

    async def _forward_absolute(
        self,
        method: str,
        target: str,
        lines: list[str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        with self._lock:
            self.requests.append(target)
        opened = await self._open_destination(parts.hostname, parts.port or 80)
        if opened is None:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        kept = [
            line
            for line in lines[1:]
            if line and line.split(":", 1)[0].strip().lower() not in ("proxy-authorization", "connection")
        ]
        head = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close", "", ""]).encode()
        up_reader, up_writer = opened
        up_writer.write(head)
        self._count(len(head), down=False)
        await self._pipe(reader, writer, up_reader, up_writer)


def _basic(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("latin-1")
    except ValueError:
        return None, None
    user, _, password = decoded.partition(":")
    return user, password


class Socks5StandIn(_StandIn):
    """A SOCKS5 proxy (RFC 1928 ``CONNECT``; RFC 1929 username/password when configured)."""

    scheme = "socks5"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        wanted = 0x02 if self.username is not None else 0x00
        if version != 5 or wanted not in methods:
            writer.write(b"\x05\xff")
            self._refuse("auth method")
            return
        writer.write(bytes([5, wanted]))
        if wanted == 0x02:
            _ver, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode("latin-1")
            (plen,) = await reader.readexactly(1)
            password = (await reader.readexactly(plen)).decode("latin-1")
            ok = self._credentials_ok(user, password)
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                self._refuse("auth")
                return
        _ver, command, _rsv, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        elif atyp == 3:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("idna")
        else:
            raw = await reader.readexactly(16)
            host = ipaddress.IPv6Address(raw).compressed
        port = int.from_bytes(await reader.readexactly(2), "big")
        opened = await self._open_destination(host, port) if command == 1 else None
        if opened is None:
            writer.write(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")  # connection refused
            return
        with self._lock:
            self.connects.append(f"{host}:{port}")
        writer.write(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00")
        await self._pipe(reader, writer, *opened)
