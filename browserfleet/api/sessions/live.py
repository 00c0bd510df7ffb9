"""``GET /v1/sessions/{id}/debug``: the live URLs of a running session (docs/sessions.md "Live view").

``debuggerFullscreenUrl`` opens browserfleet's interactive viewer (api/live_view.py),
``debuggerUrl`` Chromium's DevTools frontend (api/devtools.py), ``wsUrl`` the CDP WebSocket (as
``connectUrl``); ``pages`` lists the page targets (most recently active first, as Chromium's
``/json/list``) with the same two URLs each. The top-level URLs are those of the first page (the
viewer moves to another page when it closes; DevTools inspects the browser target when no page is
open). All carry the signing key, or with ``expiresIn`` (1 to 21600 s) a token that stops working
then (api/live_urls.py). Another project's session is a 404; a session that is not running a 409.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from browserfleet.api.deps import FleetDep, ProjectDep
from browserfleet.api.live_urls import MAX_EXPIRES_IN_S, LiveUrls
from browserfleet.core.errors import Conflict, Unavailable
from browserfleet.core.sessions import SessionStatus
from browserfleet.node.live_view import PageInfo, list_pages

router = APIRouter(tags=["sessions"])  # mounted under /v1 by api/sessions/__init__.py


@router.get("/sessions/{session_id}/debug", summary="Live URLs: interactive viewer, DevTools, CDP")
async def session_debug(
    session_id: str,
    request: Request,
    project: ProjectDep,
    fleet: FleetDep,
    expires_in: Annotated[int | None, Query(alias="expiresIn", ge=1, le=MAX_EXPIRES_IN_S)] = None,
) -> JSONResponse:
    view = await fleet.sessions.get(project, session_id)
    live = fleet.live_sessions.get(session_id)
    if view.status is not SessionStatus.RUNNING or live is None:
        message = f"Session {session_id} is not running (status {view.status.value}): no live view"
        raise Conflict(message)
    try:
        pages = await list_pages(live.http_url)
    except ConnectionError as exc:  # the browser is going away with the session
        raise Unavailable(f"Session {session_id}'s browser did not answer") from exc
    urls = LiveUrls.of(request, fleet.settings.public_url, live, expires_in)
    first = ("page", pages[0].id) if pages else ("browser", live.browser_ws_url.rsplit("/", 1)[-1])
    return JSONResponse(
        {
            "debuggerFullscreenUrl": urls.viewer(pages[0].id if pages else None),
            "debuggerUrl": urls.devtools(*first),
            "wsUrl": urls.cdp(),
            "pages": [_page(urls, page) for page in pages],
        }
    )


def _page(urls: LiveUrls, page: PageInfo) -> dict[str, Any]:
    return {
        "id": page.id,
        "url": page.url,
        "faviconUrl": page.favicon_url,
        "title": page.title,
        "debuggerUrl": urls.devtools("page", page.id),
        "debuggerFullscreenUrl": urls.viewer(page.id),
    }
