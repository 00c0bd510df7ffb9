"""The node's DevTools client (node/cdp.py on node/cdp_socket.py) against a WebSocket server of
the websockets library speaking the DevTools framing: batches, events, fragments, pings, closes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from browserfleet.node.cdp import CDPClosed, CDPConnection, CDPError
from browserfleet.node.cdp_socket import CDPSocketClosed

Handler = Callable[[ServerConnection], Awaitable[None]]


@pytest.fixture
async def browser() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Start a server running ``handler`` per connection; returns its ws:// URL."""
    servers: list[Any] = []

    async def start(handler: Handler) -> str:
        def refuse(_conn: ServerConnection, request: Request) -> Response | None:
            return _conn.respond(404, "no such target\n") if request.path != "/devtools/browser/x" else None

        server = await serve(handler, "127.0.0.1", 0, process_request=refuse, max_size=None)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/devtools/browser/x"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def answer_all(ws: ServerConnection) -> None:
    """Answer every command with its params; ``Fail.me`` with an error; after ``Page.go`` also
    send an event in three fragments and ping the client."""
    async for raw in ws:
        command = json.loads(raw)
        if command["method"] == "Fail.me":
            await ws.send(json.dumps({"id": command["id"], "error": {"code": -32000, "message": "nope"}}))
            continue
        await ws.send(json.dumps({"id": command["id"], "result": {"echo": command["params"]}}))
        if command["method"] == "Page.go":
            event = json.dumps({"method": "Page.loaded", "params": {"big": "x" * 70_000}, "sessionId": "S1"})
            third = len(event) // 3
            await ws.send([event[:third], event[third : 2 * third], event[2 * third :]])
            await asyncio.wait_for(await ws.ping(), 5)  # answered by the client, or this times out
            await ws.send(json.dumps({"method": "Page.pinged", "params": {}}))


async def test_a_batch_is_answered_in_order_and_events_arrive_whole(browser: Any) -> None:
    cdp = await CDPConnection.connect(await browser(answer_all))
    events: list[tuple[str, int, str | None]] = []
    pinged = asyncio.Event()
    cdp.on("Page.loaded", lambda params, session: events.append(("loaded", len(params["big"]), session)))
    cdp.on("Page.pinged", lambda _params, _session: pinged.set())
    try:
        answers = await cdp.send_all([("A.one", {"n": 1}), ("A.two", {"n": 2}), ("Page.go", {})])
        assert answers == [{"echo": {"n": 1}}, {"echo": {"n": 2}}, {"echo": {}}]
        await asyncio.wait_for(pinged.wait(), 5)  # the ping was answered, then this came
        assert events == [("loaded", 70_000, "S1")]  # three fragments, one message
        with pytest.raises(CDPError, match=r"Fail\.me: nope"):
            await cdp.send_all([("A.fine", {}), ("Fail.me", {})])
        assert await cdp.send("A.after", {"still": True}) == {"echo": {"still": True}}
    finally:
        await cdp.close()
    assert cdp.closed
    with pytest.raises(CDPClosed):
        await cdp.send("A.late")


async def test_a_browser_that_goes_away_fails_what_waits_for_it(browser: Any) -> None:
    async def hang_up_on_second(ws: ServerConnection) -> None:
        first = json.loads(await ws.recv())
        await ws.send(json.dumps({"id": first["id"], "result": {}}))
        await ws.recv()
        await ws.close()

    cdp = await CDPConnection.connect(await browser(hang_up_on_second))
    assert await cdp.send("A.one") == {}
    with pytest.raises(CDPClosed, match=r"A\.two: the browser connection closed"):
        await cdp.send("A.two", timeout_s=5)
    await asyncio.wait_for(cdp.wait_closed(), 5)
    assert cdp.closed


async def test_a_refused_handshake_is_a_connection_error(browser: Any) -> None:
    url = await browser(answer_all)
    with pytest.raises(CDPSocketClosed, match="handshake refused"):
        await asyncio.wait_for(CDPConnection.connect(url.replace("/x", "/gone")), 5)
    assert issubclass(CDPSocketClosed, ConnectionError)
