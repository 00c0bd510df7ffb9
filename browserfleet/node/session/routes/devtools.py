"""Chromium's DevTools frontend behind ``debuggerUrl``, through an authenticated proxy.

``debuggerUrl`` is ``http://HOST/v1/sessions/{id}/devtools/{credential}/inspector.html?ws=HOST/
v1/sessions/{id}/devtools/{credential}/page/{targetId}``. Under that prefix:

* ``GET …/{file}`` — a file of the frontend bundled with the session's browser (its debug port's
  ``/devtools/{file}``, node/session/devtools.py); plain relative paths only;
* WebSocket ``…/page/{targetId}`` (or ``…/browser/{id}``) — the frontend's CDP connection, piped
  to the browser's own ``/devtools/page/{targetId}`` like ``connectUrl`` (node/session/pipe.py),
  with no ``Origin`` forwarded (the browser refuses foreign ones).

The credential (node/session/routes/live_auth.py) sits in the path because the frontend loads its
files by relative URLs, which keep no query. It is checked before anything reaches the browser: 401 for
files, the WebSocket closed during the handshake (HTTP 403). The frontend can do everything CDP can
(run scripts, navigate), so it gets exactly the access ``connectUrl`` gives. A DevTools connection
is not a client of the session: it does not keep a session alive.
"""

from __future__ import annotations

import contextlib

import structlog
from fastapi import APIRouter, Request, Response, WebSocket

from browserfleet.core.errors import NotFound, Unavailable
from browserfleet.core.ws_pipe import UPSTREAM_ERRORS, open_upstream
from browserfleet.node.session.devtools import (
    FrontendUnavailable,
    frontend_file,
    target_ws_url,
    valid_file_path,
    valid_target,
)
from browserfleet.node.session.pipe import pipe_cdp
from browserfleet.node.session.routes.deps import services_of
from browserfleet.node.session.routes.live_auth import CLOSE_NOT_FOUND, authorized_live, live_or_refuse

log = structlog.get_logger(__name__)
router = APIRouter(tags=["sessions"])  # mounted under /v1 by node/session/routes/__init__.py
FILE_HEADERS = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}


@router.get("/sessions/{session_id}/devtools/{credential}/{path:path}", include_in_schema=False)
async def devtools_file(session_id: str, credential: str, path: str, request: Request) -> Response:
    live = authorized_live(services_of(request).live_sessions, session_id, credential)
    if not valid_file_path(path):
        raise NotFound(f"No DevTools file {path}")
    try:
        answer = await frontend_file(live.http_url, path)
    except FrontendUnavailable as exc:
        raise Unavailable(str(exc)) from exc
    return Response(
        answer.body, status_code=answer.status, media_type=answer.content_type, headers=FILE_HEADERS
    )


@router.websocket("/sessions/{session_id}/devtools/{credential}/{kind}/{target_id}")
async def devtools_socket(ws: WebSocket, session_id: str, credential: str, kind: str, target_id: str) -> None:
    live = await live_or_refuse(ws, session_id, credential)
    if live is None:
        return
    if not valid_target(kind, target_id):
        await ws.close(code=CLOSE_NOT_FOUND)
        return
    try:  # the websockets client sends no Origin header
        upstream = await open_upstream(target_ws_url(live.http_url, kind, target_id))
    except UPSTREAM_ERRORS:
        await ws.close(code=CLOSE_NOT_FOUND)  # no such target (closed page), or the browser is gone
        return
    await ws.accept()
    log.info("session.devtools_connected", session_id=session_id, target=f"{kind}/{target_id}")
    try:
        await pipe_cdp(ws, upstream, live.firewall, None)
    finally:
        with contextlib.suppress(Exception):
            await upstream.close()
        log.info("session.devtools_disconnected", session_id=session_id)
