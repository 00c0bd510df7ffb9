"""The CDP WebSocket proxy: the one place where node-level bytes are piped to clients.

``connectUrl`` is ``ws://HOST/v1/sessions/{id}/connect?signingKey=KEY`` (Playwright and Puppeteer
keep the query string on WebSocket URLs; the key may also come as ``Authorization: Bearer KEY``,
and a ``wsUrl`` minted with ``expiresIn`` carries a token derived from it: api/live_urls.py).
The key is checked against the live session **before** the WebSocket is accepted: a wrong or
missing key, or a session that is not live, is closed during the handshake (HTTP 403 to the
client) and no byte reaches the browser. After that, one upstream WebSocket to the browser's own
``webSocketDebuggerUrl`` per client, piped both ways (see notes/chromium.md §1: one WS per client
lets Chromium dispose a client's contexts when it leaves).

``GET …/connect/json/version`` (and ``/json/version/``) answers Chrome's discovery endpoint with
``webSocketDebuggerUrl`` rewritten to this proxy, so ``connect_over_cdp("http://…/connect?signingKey=…")``
works too.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import structlog
import websockets
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from browserfleet.api.live_urls import credential_ok
from browserfleet.core.errors import NotFound, Unauthenticated
from browserfleet.fleet import Fleet
from browserfleet.node.session import LiveSession
from browserfleet.node.session_files import rewrite_client_message
from browserfleet.node.session_log import ConnectionLog

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/v1", tags=["sessions"])
CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404


def _key(params: Any, headers: Any) -> str | None:
    key: str | None = params.get("signingKey") or params.get("signing_key") or params.get("token")
    if key:
        return key
    scheme, _, token = str(headers.get("authorization", "")).partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-bb-signing-key") or None


def _live(fleet: Fleet, session_id: str, key: str | None) -> LiveSession:
    live = fleet.live_sessions.get(session_id)
    if live is None:
        raise NotFound(f"Session {session_id} is not running")
    if not credential_ok(live, key):  # the signing key, or a live URL's token (api/live_urls.py)
        raise Unauthenticated("Missing or invalid signing key")
    return live


@router.websocket("/sessions/{session_id}/connect")
async def connect(ws: WebSocket, session_id: str) -> None:
    fleet: Fleet = ws.app.state.fleet
    try:
        live = _live(fleet, session_id, _key(ws.query_params, ws.headers))
    except NotFound:
        await ws.close(code=CLOSE_NOT_FOUND)  # before accept → HTTP 403, nothing forwarded
        return
    except Unauthenticated:
        await ws.close(code=CLOSE_UNAUTHORIZED)
        return
    try:
        upstream = await websockets.connect(
            live.browser_ws_url, max_size=None, ping_interval=None, compression=None, open_timeout=10
        )
    except (OSError, websockets.WebSocketException, TimeoutError):
        await ws.close(code=1011)
        return
    await ws.accept()
    fleet.live_sessions.client_connected(session_id)
    log.info("session.client_connected", session_id=session_id)
    try:
        await _pipe(
            ws,
            upstream,
            live.log.connection() if live.log is not None else None,
            downloads=live.files.downloads if live.files is not None else None,
        )
    finally:
        with contextlib.suppress(Exception):
            await upstream.close()
        fleet.live_sessions.client_disconnected(session_id)
        if live.files is not None:  # Chromium resets the download behaviour the client had set
            await live.files.reapply()
        log.info("session.client_disconnected", session_id=session_id)


async def _pipe(
    ws: WebSocket,
    upstream: websockets.ClientConnection,
    traffic: ConnectionLog | None,
    *,
    downloads: Path | None = None,
) -> None:
    """Both ways until either side leaves; ``traffic`` (logSession) sees every text message.
    A client's ``setDownloadBehavior`` is pointed at the session's ``downloads`` folder."""

    async def client_to_browser() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                text = _from_client(text, traffic, downloads)
            await upstream.send(text if text is not None else message.get("bytes") or b"")

    async def browser_to_client() -> None:
        async for message in upstream:
            if isinstance(message, str):
                _record(traffic, message, to_browser=False)
                await ws.send_text(message)
            else:
                await ws.send_bytes(message)
        with contextlib.suppress(Exception):  # the browser went away: tell the client
            await ws.close(code=1001)

    tasks = [asyncio.create_task(client_to_browser()), asyncio.create_task(browser_to_client())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(
                asyncio.CancelledError, WebSocketDisconnect, websockets.WebSocketException, RuntimeError
            ):
                await task


def _from_client(text: str, traffic: ConnectionLog | None, downloads: Path | None) -> str:
    """What goes to the browser: the client's message, its download path pointed at the session's
    folder (node/session_files.py), shown to the session log."""
    if downloads is not None:
        text = rewrite_client_message(text, downloads)
    _record(traffic, text, to_browser=True)
    return text


def _record(traffic: ConnectionLog | None, text: str, *, to_browser: bool) -> None:
    """Show a message to the session log, if any; a session log never breaks the pipe."""
    if traffic is None:
        return
    try:
        if to_browser:
            traffic.client_message(text)
        else:
            traffic.browser_message(text)
    except Exception:
        log.exception("session.log_failed")


@router.get("/sessions/{session_id}/connect/json/version", include_in_schema=False)
@router.get("/sessions/{session_id}/connect/json/version/", include_in_schema=False)
async def json_version(session_id: str, request: Request) -> JSONResponse:
    """The browser's ``/json/version`` with ``webSocketDebuggerUrl`` pointing at this proxy."""
    fleet: Fleet = request.app.state.fleet
    key = _key(request.query_params, request.headers)
    live = _live(fleet, session_id, key)
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        answer = (await client.get(f"{live.http_url}/json/version")).json()
    base = fleet.settings.public_url or str(request.base_url)
    scheme = "wss" if base.startswith("https") else "ws"
    host = base.split("://", 1)[1].rstrip("/")
    answer["webSocketDebuggerUrl"] = (
        f"{scheme}://{host}/v1/sessions/{session_id}/connect?signingKey={quote(key or '')}"
    )
    return JSONResponse(answer)
