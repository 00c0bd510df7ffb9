"""``GET /v1/sessions/{id}/debug``: the live URLs of a running session (docs/sessions.md "Live view").

``debuggerFullscreenUrl`` opens browserfleet's interactive viewer
(node/session/routes/live_view.py), ``debuggerUrl`` Chromium's DevTools frontend
(node/session/routes/devtools.py), ``wsUrl`` the CDP WebSocket (as ``connectUrl``,
node/session/routes/connect.py); ``pages`` lists the page targets (most recently active first, as
Chromium's ``/json/list``) with the same two URLs each. The top-level URLs are those of the
first page (the viewer moves to another page when it closes; DevTools inspects the browser target
when no page is open). Another project's session is a 404; a session that is not running a 409.

Every URL carries a credential (node/session/routes/live_auth.py): the signing key, or with
``expiresIn`` (1 to 21600 s) a token that stops working then. The viewer and its WebSocket take it
in the query (``?signingKey=KEY`` or ``?token=TOKEN``); the DevTools frontend in the path
(``…/devtools/{credential}/…``), because its files load each other by relative URLs that drop the
query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection

from browserfleet.core.errors import Conflict, Unavailable
from browserfleet.core.public_base import client_base
from browserfleet.core.sessions import SessionStatus
from browserfleet.core.sessions.live_tokens import mint_token
from browserfleet.node.session.live import LiveSession
from browserfleet.node.session.live_view import PageInfo, list_pages
from browserfleet.node.session.routes.deps import ProjectDep, ServicesDep

router = APIRouter(tags=["sessions"])  # mounted under /v1 by node/session/routes/__init__.py
MAX_EXPIRES_IN_S = 21600
ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such session (or another project's)"},
    409: {"description": "The session is not running: no live view"},
    503: {"description": "The session's browser did not answer (it is ending), or its node did not"},
}


class LivePage(BaseModel):
    """A page target of the session's browser (documents ``pages`` of the answer)."""

    id: str
    url: str = Field(json_schema_extra={"format": "uri"})
    favicon_url: str = Field(
        alias="faviconUrl",
        description="the page's icon; when it lists none, where a browser looks for one "
        "(`/favicon.ico` of its origin), or `about:blank` for a page without an origin",
        json_schema_extra={"format": "uri"},
    )
    title: str
    debugger_url: str = Field(alias="debuggerUrl", json_schema_extra={"format": "uri"})
    debugger_fullscreen_url: str = Field(alias="debuggerFullscreenUrl", json_schema_extra={"format": "uri"})


class SessionLiveUrls(BaseModel):
    """What ``GET /v1/sessions/{id}/debug`` answers (Browserbase's ``SessionLiveUrls``)."""

    debugger_fullscreen_url: str = Field(alias="debuggerFullscreenUrl", json_schema_extra={"format": "uri"})
    debugger_url: str = Field(alias="debuggerUrl", json_schema_extra={"format": "uri"})
    ws_url: str = Field(alias="wsUrl", json_schema_extra={"format": "uri"})
    pages: list[LivePage]


@router.get(
    "/sessions/{session_id}/debug",
    summary="Live URLs: interactive viewer, DevTools, CDP",
    response_model=SessionLiveUrls,
    responses=ANSWERS,
)
async def session_debug(
    session_id: str,
    request: Request,
    project: ProjectDep,
    services: ServicesDep,
    expires_in: Annotated[int | None, Query(alias="expiresIn", ge=1, le=MAX_EXPIRES_IN_S)] = None,
) -> JSONResponse:
    view = await services.sessions.get(project, session_id)
    live = services.live_sessions.get(session_id)
    if view.status is not SessionStatus.RUNNING or live is None:
        message = f"Session {session_id} is not running (status {view.status.value}): no live view"
        raise Conflict(message)
    try:
        pages = await list_pages(live.http_url)
    except ConnectionError as exc:  # the browser is going away with the session
        raise Unavailable(f"Session {session_id}'s browser did not answer") from exc
    urls = LiveUrls.of(request, services.settings.public_url, live, expires_in)
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
        "faviconUrl": favicon_of(page.url, page.favicon_url),
        "title": page.title,
        "debuggerUrl": urls.devtools("page", page.id),
        "debuggerFullscreenUrl": urls.viewer(page.id),
    }


@dataclass(frozen=True)
class LiveUrls:
    """Builds the live URLs of one session on ``public_url``, else an allowed host the client used,
    else the address it reached (core/public_base.py: never a foreign Host header)."""

    scheme: str  # http | https
    host: str  # netloc plus any path prefix of public_url
    session_id: str
    credential: str
    param: str  # the credential's query name: signingKey | token

    @classmethod
    def of(
        cls, request: HTTPConnection, public_url: str | None, live: LiveSession, expires_in_s: int | None
    ) -> LiveUrls:
        """The URLs carry the signing key, or a token valid ``expires_in_s`` seconds."""
        base = urlsplit(public_url or client_base(request))
        scheme = "https" if base.scheme in {"https", "wss"} else "http"
        host = base.netloc + base.path.rstrip("/")
        if expires_in_s is None:
            return cls(scheme, host, live.session_id, live.signing_key, "signingKey")
        token = mint_token(live.signing_key, live.session_id, expires_in_s)
        return cls(scheme, host, live.session_id, token, "token")

    @property
    def _session(self) -> str:
        return f"{self.host}/v1/sessions/{self.session_id}"

    def _query(self, **extra: str) -> str:
        return urlencode({self.param: self.credential, **extra})

    def viewer(self, page_id: str | None = None) -> str:
        """The interactive viewer (node/session/routes/live_view.py): the page ``page_id``, else
        the first."""
        query = self._query(pageId=page_id) if page_id else self._query()
        return f"{self.scheme}://{self._session}/live?{query}"

    def devtools(self, kind: str, target_id: str) -> str:
        """Chromium's DevTools frontend on the target ``{page|browser}/ID``
        (node/session/routes/devtools.py)."""
        prefix = f"{self._session}/devtools/{quote(self.credential, safe='')}"
        ws = "wss" if self.scheme == "https" else "ws"
        return f"{self.scheme}://{prefix}/inspector.html?{ws}={prefix}/{kind}/{target_id}"

    def cdp(self) -> str:
        """``wsUrl``: the session's CDP WebSocket, as ``connectUrl``
        (node/session/routes/connect.py)."""
        ws = "wss" if self.scheme == "https" else "ws"
        return f"{ws}://{self._session}/connect?{self._query()}"


def favicon_of(page_url: str, listed: str) -> str:
    """The favicon Chromium lists, else the one a browser would ask the page's origin for, else
    ``about:blank``: Browserbase's schema requires a URI here, never an empty string."""
    if listed:
        return listed
    parts = urlsplit(page_url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}/favicon.ico"
    return "about:blank"
