"""The CDP WebSocket proxy behind ``connectUrl``: a live session's browser, piped to its clients.

``connectUrl`` is ``ws://HOST/v1/sessions/{id}/connect?signingKey=KEY`` (Playwright and Puppeteer
keep the query string on WebSocket URLs; the key may also come as ``Authorization: Bearer KEY``,
and a ``wsUrl`` minted with ``expiresIn`` carries a token derived from it:
node/session/routes/live_auth.py). The key is checked against the live session **before** the
WebSocket is accepted: a wrong or missing key, or a session that is not live, is closed during the
handshake (HTTP 403 to the client) and no byte reaches the browser. After that, one upstream
WebSocket to the browser's own ``webSocketDebuggerUrl`` per client, piped both ways (see
notes/chromium.md §1: one WS per client lets Chromium dispose a client's contexts when it leaves);
the pipe itself, through the session's protocol firewall, is node/session/pipe.py.

``GET …/connect/json/version`` (and ``/json/version/``) answers Chrome's discovery endpoint with
``webSocketDebuggerUrl`` rewritten to this proxy, so ``connect_over_cdp("http://…/connect?signingKey=…")``
works too.
"""

from __future__ import annotations

import contextlib
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from browserfleet.core.http import outbound_client
from browserfleet.core.public_base import client_base
from browserfleet.core.ws_pipe import UPSTREAM_ERRORS, open_upstream
from browserfleet.node.session.pipe import pipe_cdp
from browserfleet.node.session.routes.deps import services_of
from browserfleet.node.session.routes.live_auth import (
    LIVE_ANSWERS,
    LIVE_CREDENTIAL,
    authorized_live,
    credential_of,
    live_or_refuse,
)

log = structlog.get_logger(__name__)
router = APIRouter(tags=["sessions"])  # mounted under /v1 by node/session/routes/__init__.py


class BrowserVersion(BaseModel):
    """Chromium's ``/json/version`` (``Browser``, ``Protocol-Version``, ``User-Agent``…), documented."""

    model_config = ConfigDict(extra="allow")

    web_socket_debugger_url: str = Field(
        alias="webSocketDebuggerUrl", description="connectUrl", json_schema_extra={"format": "uri"}
    )


@router.websocket("/sessions/{session_id}/connect")
async def connect(ws: WebSocket, session_id: str) -> None:
    registry = services_of(ws).live_sessions
    live = await live_or_refuse(ws, session_id, credential_of(ws))
    if live is None:
        return
    try:
        upstream = await open_upstream(live.browser_ws_url)
    except UPSTREAM_ERRORS:
        await ws.close(code=1011)
        return
    await ws.accept()
    registry.client_connected(session_id)
    log.info("session.client_connected", session_id=session_id)
    try:
        await pipe_cdp(ws, upstream, live.firewall, live.log.connection() if live.log is not None else None)
    finally:
        with contextlib.suppress(Exception):
            await upstream.close()
        registry.client_disconnected(session_id)
        if live.files is not None:  # Chromium resets the download behaviour the client had set
            await live.files.reapply()
        log.info("session.client_disconnected", session_id=session_id)


@router.get(
    "/sessions/{session_id}/connect/json/version",
    summary="Chrome's /json/version, its webSocketDebuggerUrl pointing at connectUrl",
    response_model=BrowserVersion,
    dependencies=LIVE_CREDENTIAL,
    responses=LIVE_ANSWERS,
)
@router.get("/sessions/{session_id}/connect/json/version/", include_in_schema=False)
async def json_version(session_id: str, request: Request) -> JSONResponse:
    """The browser's ``/json/version`` with ``webSocketDebuggerUrl`` pointing at this proxy."""
    key = credential_of(request)
    live = authorized_live(services_of(request).live_sessions, session_id, key)
    async with outbound_client(timeout=5.0) as client:
        answer = (await client.get(f"{live.http_url}/json/version")).json()
    base = client_base(request)  # never the request's own Host header (core/public_base.py)
    scheme = "wss" if base.startswith("https") else "ws"
    host = base.split("://", 1)[1].rstrip("/")
    answer["webSocketDebuggerUrl"] = (
        f"{scheme}://{host}/v1/sessions/{session_id}/connect?signingKey={quote(key or '')}"
    )
    return JSONResponse(answer)
