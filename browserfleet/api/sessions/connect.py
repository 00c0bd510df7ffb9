"""The CDP WebSocket proxy behind ``connectUrl``: a live session's browser, piped to its clients.

``connectUrl`` is ``ws://HOST/v1/sessions/{id}/connect?signingKey=KEY`` (Playwright and Puppeteer
keep the query string on WebSocket URLs; the key may also come as ``Authorization: Bearer KEY``,
and a ``wsUrl`` minted with ``expiresIn`` carries a token derived from it: api/sessions/live_auth.py).
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

import contextlib
from urllib.parse import quote

import httpx
import structlog
import websockets
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse

from browserfleet.api.public_base import client_base
from browserfleet.api.sessions.live_auth import authorized_live, credential_of, live_or_refuse
from browserfleet.api.ws_pipe import UPSTREAM_ERRORS, both_ways, open_upstream
from browserfleet.core.firewall import CdpPolicy, Refuse
from browserfleet.fleet import Fleet
from browserfleet.node.session_log import ConnectionLog

log = structlog.get_logger(__name__)
router = APIRouter(tags=["sessions"])  # mounted under /v1 by api/sessions/__init__.py


@router.websocket("/sessions/{session_id}/connect")
async def connect(ws: WebSocket, session_id: str) -> None:
    fleet: Fleet = ws.app.state.fleet
    live = await live_or_refuse(ws, session_id, credential_of(ws))
    if live is None:
        return
    try:
        upstream = await open_upstream(live.browser_ws_url)
    except UPSTREAM_ERRORS:
        await ws.close(code=1011)
        return
    await ws.accept()
    fleet.live_sessions.client_connected(session_id)
    log.info("session.client_connected", session_id=session_id)
    try:
        await pipe_cdp(ws, upstream, live.firewall, live.log.connection() if live.log is not None else None)
    finally:
        with contextlib.suppress(Exception):
            await upstream.close()
        fleet.live_sessions.client_disconnected(session_id)
        if live.files is not None:  # Chromium resets the download behaviour the client had set
            await live.files.reapply()
        log.info("session.client_disconnected", session_id=session_id)


async def pipe_cdp(
    ws: WebSocket,
    upstream: websockets.ClientConnection,
    firewall: CdpPolicy,
    traffic: ConnectionLog | None,
) -> None:
    """A CDP client and the browser, both ways until either side leaves. Every client message
    passes the session's ``firewall`` first (core/firewall/cdp.py): what it forwards goes to the
    browser, what it refuses is answered to the client with a CDP error and never reaches the
    browser. ``traffic`` (logSession) sees what was forwarded and the browser's answers."""

    async def client_to_browser() -> None:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:  # CDP is text; a binary frame is not a command
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            verdict = firewall.inspect(text)
            if isinstance(verdict, Refuse):
                log.warning("session.cdp_refused", method=verdict.method[:100], reason=verdict.reason)
                await ws.send_text(verdict.reply)
                continue
            _record(traffic, verdict.text, to_browser=True)
            await upstream.send(verdict.text)

    async def browser_to_client() -> None:
        async for message in upstream:
            if isinstance(message, str):
                _record(traffic, message, to_browser=False)
                await ws.send_text(message)
            else:
                await ws.send_bytes(message)
        with contextlib.suppress(Exception):  # the browser went away: tell the client
            await ws.close(code=1001)

    await both_ways(client_to_browser(), browser_to_client())


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
    key = credential_of(request)
    live = authorized_live(fleet, session_id, key)
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        answer = (await client.get(f"{live.http_url}/json/version")).json()
    base = client_base(request)  # never the request's own Host header (api/public_base.py)
    scheme = "wss" if base.startswith("https") else "ws"
    host = base.split("://", 1)[1].rstrip("/")
    answer["webSocketDebuggerUrl"] = (
        f"{scheme}://{host}/v1/sessions/{session_id}/connect?signingKey={quote(key or '')}"
    )
    return JSONResponse(answer)
