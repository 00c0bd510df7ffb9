"""The WebSocket under a DevTools connection: :class:`CDPSocket`.

websockets' Sans-I/O client (:class:`websockets.client.ClientProtocol`) does the handshake, the
framing, masking, pings and the closing handshake; this module moves its bytes over an
:class:`asyncio.Protocol`. Each message reaches ``on_message`` as soon as it is parsed, inside
``data_received`` (no reader task or queue in between), and the messages of one
:meth:`CDPSocket.send` leave in one write: a render's page is set up by a batch of ~15 commands.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import cast

import structlog
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

__all__ = ["CDPSocket", "CDPSocketClosed"]

log = structlog.get_logger(__name__)
HANDSHAKE_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
OnMessage = Callable[[bytes], None]
OnLost = Callable[[], None]
_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


class CDPSocketClosed(ConnectionError):
    """The WebSocket is closed (or never opened)."""


class CDPSocket(asyncio.Protocol):
    """One client WebSocket; use :meth:`open`. Every message, text or binary, reaches
    ``on_message``; ``on_lost`` is called once the connection is gone."""

    def __init__(self, ws_url: str, on_message: OnMessage, on_lost: OnLost) -> None:
        self._ws = ClientProtocol(parse_uri(ws_url), max_size=None)
        self._on_message = on_message
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._fragments: list[bytes] = []
        loop = asyncio.get_running_loop()
        self._opened: asyncio.Future[None] = loop.create_future()
        self._lost: asyncio.Future[None] = loop.create_future()

    @classmethod
    async def open(
        cls, ws_url: str, on_message: OnMessage, on_lost: OnLost, *, sock: socket.socket | None = None
    ) -> CDPSocket:
        """Connect to ``ws_url`` (or over ``sock``, already connected) and complete the handshake."""
        loop = asyncio.get_running_loop()
        line = cls(ws_url, on_message, on_lost)
        if sock is not None:
            await loop.create_connection(lambda: line, sock=sock)
        else:
            await loop.create_connection(lambda: line, line._ws.uri.host, line._ws.uri.port)
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                await asyncio.shield(line._opened)
        except BaseException:
            line.abort()
            raise
        return line

    @property
    def closed(self) -> bool:
        return self._lost.done()

    async def wait_closed(self) -> None:
        """Return once the connection is gone."""
        await asyncio.shield(self._lost)

    def send(self, messages: list[bytes]) -> None:
        """Text messages (UTF-8), framed and written at once."""
        if self._ws.state is not State.OPEN or self._transport is None:
            raise CDPSocketClosed("the WebSocket is closed")
        for data in messages:
            self._ws.send_text(data)
        self._flush()

    async def close(self) -> None:
        """The closing handshake (at most ``CLOSE_TIMEOUT_S``), then the socket."""
        if not self.closed and self._ws.state is State.OPEN:
            self._ws.send_close()
            self._flush()
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await asyncio.shield(self._lost)
            except TimeoutError:
                pass
        self.abort()
        await asyncio.shield(self._lost)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._ws.send_request(self._ws.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        self._ws.receive_data(data)
        self._take_events()

    def eof_received(self) -> bool:
        self._ws.receive_eof()
        self._take_events()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if not self._opened.done():
            self._opened.set_exception(CDPSocketClosed(f"closed during the handshake: {exc or 'EOF'}"))
            self._opened.exception()  # retrieved: nobody may be waiting any more
        if not self._lost.done():
            self._lost.set_result(None)
            self._on_lost()

    # -- internals ----------------------------------------------------------------------------

    def _take_events(self) -> None:
        for event in self._ws.events_received():
            if isinstance(event, Frame):
                if event.opcode in _DATA:
                    self._data_frame(event)
            elif isinstance(event, Response) and not self._opened.done():
                failed = self._ws.handshake_exc
                if failed is None:
                    self._opened.set_result(None)
                else:
                    self._opened.set_exception(CDPSocketClosed(f"handshake refused: {failed}"))
        self._flush()  # pongs, the closing handshake

    def _data_frame(self, frame: Frame) -> None:
        if frame.opcode is not Opcode.CONT:
            self._fragments.clear()
        if not frame.fin:
            self._fragments.append(bytes(frame.data))
            return
        message = b"".join([*self._fragments, frame.data]) if self._fragments else bytes(frame.data)
        self._fragments.clear()
        try:
            self._on_message(message)
        except Exception:  # one message that cannot be handled must not end the connection
            log.exception("cdp.message_failed")

    def _flush(self) -> None:
        transport = self._transport
        if transport is None:
            return
        chunks = self._ws.data_to_send()
        if not chunks:
            return
        if chunks[-1] == b"":  # the end of the stream
            chunks.pop()
            transport.writelines(chunks)
            if transport.can_write_eof():
                transport.write_eof()
            return
        transport.writelines(chunks)
