"""The interactive live viewer behind ``debuggerFullscreenUrl`` (docs/sessions.md "Live view").

``GET /v1/sessions/{id}/live?signingKey=KEY[&pageId=TARGET]`` serves a self-contained page
(``static/live_view.html``: a canvas, page tabs, no external resources) that opens
``/v1/sessions/{id}/live/ws`` with the same query. The credential
(node/session/routes/live_auth.py) is checked before anything reaches the browser: the page answers
401 without it (404 once the session is not running), the WebSocket is closed during the handshake
(HTTP 403 to the client).

This side is a thin pipe: the screencast, the page targets and the input live on the node
(node/session/live_view.py, :class:`LiveViewer`), which speaks to the viewer through a
:class:`~browserfleet.node.session.live_view.ViewerChannel` — here the viewer's WebSocket.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import structlog
from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse
from starlette.websockets import WebSocketDisconnect

from browserfleet.core.ws_pipe import UPSTREAM_ERRORS
from browserfleet.node.cdp import CDPError
from browserfleet.node.session.live_view import LiveViewer, ScreencastOptions
from browserfleet.node.session.routes.deps import services_of
from browserfleet.node.session.routes.live_auth import (
    LIVE_ANSWERS,
    LIVE_CREDENTIAL,
    authorized_live,
    credential_of,
    live_or_refuse,
)
from browserfleet.settings import Settings

log = structlog.get_logger(__name__)
router = APIRouter(tags=["sessions"])  # mounted under /v1 by node/session/routes/__init__.py
VIEWER_HTML = (Path(__file__).parent / "static" / "live_view.html").read_text()
VIEWER_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # the viewer may be embedded (an iframe in the user's own app); it loads nothing from elsewhere
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'",
}


def screencast_options(settings: Settings) -> ScreencastOptions:
    return ScreencastOptions(
        format=settings.live_view_format,
        quality=settings.live_view_quality,
        max_width=settings.live_view_max_width,
        max_height=settings.live_view_max_height,
    )


@router.get(
    "/sessions/{session_id}/live",
    summary="The interactive live viewer (debuggerFullscreenUrl): an HTML page",
    response_class=HTMLResponse,
    dependencies=LIVE_CREDENTIAL,
    responses=LIVE_ANSWERS,
)
async def viewer_page(session_id: str, request: Request) -> HTMLResponse:
    authorized_live(services_of(request).live_sessions, session_id, credential_of(request))
    return HTMLResponse(VIEWER_HTML, headers=VIEWER_HEADERS)


@router.websocket("/sessions/{session_id}/live/ws")
async def viewer_socket(ws: WebSocket, session_id: str) -> None:
    settings = services_of(ws).settings
    live = await live_or_refuse(ws, session_id, credential_of(ws))
    if live is None:
        return
    channel = _SocketChannel(ws)
    try:
        viewer = await LiveViewer.open(live.browser_ws_url, channel, screencast_options(settings))
    except UPSTREAM_ERRORS:
        await ws.close(code=1011)
        return
    await ws.accept()
    log.info("session.viewer_connected", session_id=session_id)
    try:
        await viewer.run(ws.query_params.get("pageId"))
    except (ConnectionError, TimeoutError, CDPError):  # the browser went away as the viewer came
        pass
    finally:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await ws.close(code=1001)  # the session ended (or the viewer left first)
        log.info("session.viewer_disconnected", session_id=session_id, frames=viewer.frames_sent)


class _SocketChannel:
    """The viewer's WebSocket as a :class:`ViewerChannel`; a viewer that left just ends the stream."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.gone = False

    async def send(self, message: str | bytes) -> None:
        if self.gone:
            return
        try:
            if isinstance(message, bytes):
                await self.ws.send_bytes(message)
            else:
                await self.ws.send_text(message)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.gone = True

    async def receive(self) -> str | None:
        if self.gone:
            return None
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError):
            message = {"type": "websocket.disconnect"}
        if message["type"] == "websocket.disconnect":
            self.gone = True
            return None
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            text = data.decode("utf-8", "replace")
        return str(text)
