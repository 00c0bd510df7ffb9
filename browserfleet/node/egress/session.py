"""One browser-side proxy connection: a keep-alive sequence of plain-HTTP and CONNECT requests.

Plain HTTP absolute-form requests are rewritten to origin-form and re-framed with :mod:`h11` in
both directions; the upstream connection is reused for the next request to the same
``host:port``. ``CONNECT`` and ``Upgrade: websocket`` (after the ``101``) become raw tunnels.
"""

from __future__ import annotations

import asyncio
import http
import logging

import h11
from h11._state import MIGHT_SWITCH_PROTOCOL  # not re-exported by h11; pinned in uv.lock

from browserfleet.node.egress.dial import Dialer
from browserfleet.node.egress.link import UpstreamFailure, UpstreamLink
from browserfleet.node.egress.messages import (
    EGRESS_HEADER,
    MAX_HEADER_BYTES,
    Refusal,
    declares_body,
    end_to_end_headers,
    is_websocket_upgrade,
    parse_absolute_target,
    parse_authority,
)
from browserfleet.node.egress.streams import CHUNK_SIZE, close_stream
from browserfleet.node.egress.tunnel import splice

__all__ = ["ClientSession"]

logger = logging.getLogger(__name__)


class _AbortConnection(Exception):
    """The browser-side connection cannot continue and is dropped without a response."""


class ClientSession:
    """Serves one browser-side TCP connection: a keep-alive sequence of proxy requests."""

    def __init__(self, dialer: Dialer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._dialer = dialer
        self._stats = dialer.stats
        self._reader = reader
        self._writer = writer
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        self._link: UpstreamLink | None = None
        self._head_request = False

    async def run(self) -> None:
        """Serve until the browser closes, a tunnel ends or an error; always closes the sockets."""
        abort = True
        try:
            await self._serve()
            abort = False
        except h11.RemoteProtocolError as exc:
            abort = not await self._reply_malformed(exc)
        except (OSError, _AbortConnection, h11.LocalProtocolError) as exc:
            logger.debug("egress %s: connection dropped: %r", self._dialer.job_id, exc)
        finally:
            if abort:  # synchronous first: a second cancellation below cannot skip it
                self._writer.transport.abort()
            await self._drop_link(abort=True)
            await close_stream(self._writer, abort=abort)

    async def _serve(self) -> None:
        conn = self._conn
        while True:
            event = await self._next_event()
            if not isinstance(event, h11.Request):
                return  # ConnectionClosed: the browser closed an idle connection
            self._head_request = event.method == b"HEAD"
            if event.method == b"CONNECT":
                await self._handle_connect(event)
                return
            if not await self._handle_http(event):
                return
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _next_event(self) -> h11.Event | type[h11.PAUSED]:
        while True:
            event = self._conn.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]  # NEED_DATA excluded above
            self._conn.receive_data(await self._reader.read(CHUNK_SIZE))

    async def _send(self, event: h11.Event) -> None:
        data = self._conn.send(event)
        if data:
            self._writer.write(data)
            await self._writer.drain()

    def _request_complete(self) -> bool:
        """Whether the current request has been read completely (keep-alive stays possible)."""
        state = self._conn.their_state
        if state is h11.SEND_BODY:
            return isinstance(self._conn.next_event(), h11.EndOfMessage)
        return state is h11.DONE or state is MIGHT_SWITCH_PROTOCOL

    async def _reply(self, refusal: Refusal, *, close: bool = False) -> bool:
        """Answer the current request ourselves; returns whether the connection may continue."""
        close = close or not self._request_complete()
        body = refusal.message.encode("utf-8", "replace")
        headers = [
            (b"Content-Type", b"text/plain; charset=utf-8"),
            (b"Content-Length", str(len(body)).encode()),
            (b"Cache-Control", b"no-store"),
            (EGRESS_HEADER.encode(), refusal.kind.encode()),
        ]
        if close:
            headers.append((b"Connection", b"close"))
        reason = http.HTTPStatus(refusal.status).phrase.encode()
        await self._send(h11.Response(status_code=refusal.status, headers=headers, reason=reason))
        if not self._head_request:
            await self._send(h11.Data(data=body))
        await self._send(h11.EndOfMessage())
        return not close

    async def _reply_malformed(self, exc: h11.RemoteProtocolError) -> bool:
        """400 for a request h11 could not parse, if a response can still be sent."""
        if self._conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return False
        status = exc.error_status_hint if 400 <= exc.error_status_hint < 600 else 400
        refusal = Refusal(status, "bad-request", f"browserfleet: malformed proxy request: {exc}")
        try:
            await self._reply(refusal, close=True)
        except (OSError, h11.LocalProtocolError):
            return False
        return True

    # -- CONNECT ------------------------------------------------------------------------------

    async def _handle_connect(self, request: h11.Request) -> None:
        authority = parse_authority(request.target)
        if authority is None or not self._request_complete():
            message = "browserfleet: CONNECT needs a host:port target and no body"
            await self._reply(Refusal(400, "bad-request", message), close=True)
            return
        host, port = authority
        opened = await self._dialer.open_upstream(host, port)
        if isinstance(opened, Refusal):
            await self._reply(opened, close=True)
            return
        up_reader, up_writer = opened
        completed = False
        try:
            self._stats.requests += 1
            self._writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            early = self._conn.trailing_data[0]  # bytes the browser sent right behind the CONNECT
            if early:
                self._stats.bytes_sent += len(early)
                up_writer.write(early)
            await splice(self._reader, self._writer, up_reader, up_writer, self._stats)
            completed = True
        finally:
            await close_stream(up_writer, abort=not completed)

    # -- plain HTTP ---------------------------------------------------------------------------

    async def _handle_http(self, request: h11.Request) -> bool:
        """Forward one absolute-form request; returns whether the browser connection continues."""
        target = parse_absolute_target(request.target)
        if target is None:
            message = "browserfleet: this is a proxy; send absolute-form http:// requests or CONNECT"
            return await self._reply(Refusal(400, "bad-request", message))
        host, port, authority, path = target
        websocket = is_websocket_upgrade(request.headers)
        headers = end_to_end_headers(request.headers, upgrade=websocket, drop=frozenset({b"host", b"expect"}))
        outbound = h11.Request(method=request.method, target=path, headers=[(b"Host", authority), *headers])
        retry_allowed = not declares_body(request.headers)  # nothing to replay on a fresh connection
        while True:
            acquired = await self._acquire_link(host, port)
            if isinstance(acquired, Refusal):
                return await self._reply(acquired)
            link, reused = acquired
            try:
                return await self._exchange(link, outbound)
            except UpstreamFailure as exc:
                await self._drop_link(abort=True)
                if link.response_started:
                    raise _AbortConnection(str(exc)) from exc  # too late for a 502
                if not (reused and retry_allowed):  # a reused idle connection may just be stale
                    return await self._reply(self._dialer.upstream_error(host, port, str(exc)))

    async def _acquire_link(self, host: str, port: int) -> tuple[UpstreamLink, bool] | Refusal:
        link = self._link
        if link is not None:
            if link.key == (host, port) and link.usable():
                return link, True
            await self._drop_link()
        opened = await self._dialer.open_upstream(host, port)
        if isinstance(opened, Refusal):
            return opened
        self._link = UpstreamLink((host, port), opened, self._stats)
        return self._link, False

    async def _drop_link(self, *, abort: bool = False) -> None:
        link, self._link = self._link, None
        if link is not None:
            await close_stream(link.writer, abort=abort)

    async def _exchange(self, link: UpstreamLink, outbound: h11.Request) -> bool:
        await link.send(outbound)
        await self._forward_body(link)
        return await self._relay_response(link)

    async def _forward_body(self, link: UpstreamLink) -> None:
        if self._conn.their_state is h11.DONE or self._conn.their_state is MIGHT_SWITCH_PROTOCOL:
            await link.send(h11.EndOfMessage())  # already read (retry of a bodyless request)
            return
        if self._conn.client_is_waiting_for_100_continue:
            await self._send(h11.InformationalResponse(status_code=100, headers=[]))
        while True:
            event = await self._next_event()
            if isinstance(event, h11.Data):
                await link.send(h11.Data(data=event.data))
            elif isinstance(event, h11.EndOfMessage):
                await link.send(h11.EndOfMessage())
                return
            else:
                raise _AbortConnection(f"unexpected {event!r} in request body")

    async def _relay_response(self, link: UpstreamLink) -> bool:
        while True:
            event = await link.next_event()
            if isinstance(event, h11.Data):
                await self._send(h11.Data(data=event.data))
            elif isinstance(event, h11.Response):
                link.response_started = True
                self._stats.requests += 1
                headers = end_to_end_headers(event.headers)
                await self._send(
                    h11.Response(status_code=event.status_code, headers=headers, reason=event.reason)
                )
            elif isinstance(event, h11.EndOfMessage):
                await self._send(h11.EndOfMessage())
                if not link.finish_cycle():
                    await self._drop_link()
                return True
            elif isinstance(event, h11.InformationalResponse):
                if event.status_code == 101:
                    await self._switch_protocols(link, event)
                    return False
                if event.status_code != 100:  # 100 is ours to send (Expect is not forwarded)
                    headers = end_to_end_headers(event.headers)
                    await self._send(
                        h11.InformationalResponse(
                            status_code=event.status_code, headers=headers, reason=event.reason
                        )
                    )
            else:
                raise UpstreamFailure(f"connection closed before the response ended ({event!r})")

    async def _switch_protocols(self, link: UpstreamLink, response: h11.InformationalResponse) -> None:
        """Relay the 101 and turn the connection into a raw two-way pipe (WebSocket)."""
        link.response_started = True
        self._stats.requests += 1
        headers = end_to_end_headers(response.headers, upgrade=True)
        await self._send(h11.InformationalResponse(status_code=101, headers=headers, reason=response.reason))
        from_upstream = link.conn.trailing_data[0]
        if from_upstream:
            self._writer.write(from_upstream)
        from_browser = self._conn.trailing_data[0]
        if from_browser:
            self._stats.bytes_sent += len(from_browser)
            link.writer.write(from_browser)
        self._link = None
        completed = False
        try:
            await splice(self._reader, self._writer, link.reader, link.writer, self._stats)
            completed = True
        finally:
            await close_stream(link.writer, abort=not completed)
