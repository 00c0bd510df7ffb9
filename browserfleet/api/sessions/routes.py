"""Routes of the Sessions family (browserbase-compatible). Thin: validate, authenticate, call core,
shape the reply. The CDP WebSocket proxy behind ``connectUrl``, and every endpoint that needs the
session's live browser, are the node-local router (node/session/routes/)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from browserfleet.api.deps import FleetDep, ProjectDep
from browserfleet.api.errors import envelope
from browserfleet.api.finished import final
from browserfleet.api.sessions.schemas import (
    CreatedSession,
    CreateSessionRequest,
    SessionError,
    SessionModel,
    SessionWithConnect,
    Status,
    UpdateSessionRequest,
)
from browserfleet.core.errors import BrowserfleetError, MissingApiKey, RateLimited
from browserfleet.core.public_base import client_base
from browserfleet.core.sessions import SessionStatus, SessionView
from browserfleet.core.sessions.service import METADATA_QUERY

router = APIRouter(prefix="/v1", tags=["sessions"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such session (or another project's)"}}
CREATE_ANSWERS: dict[int | str, dict[str, Any]] = {
    409: {"description": "A live session already persists into browserSettings.context"},
    429: {
        "description": "The project's concurrent sessions are at its limit, or no node has room for one "
        "more (retry-after, x-should-retry: true)"
    },
    503: {"description": "No browser node that runs live sessions is up"},
}


MISSING_KEY = "Missing API key: send it in the `X-BB-API-Key` header"


def session_message(error: BrowserfleetError) -> str:
    """The error's message as this family says it: a missing key names its ``X-BB-API-Key`` header
    (``Authorization: Bearer`` is accepted too)."""
    return MISSING_KEY if isinstance(error, MissingApiKey) else error.message


@envelope(SessionError)
def session_envelope(error: BrowserfleetError) -> JSONResponse:
    """``{statusCode, error, message}``; 429s carry the rate-limit headers and ``x-should-retry``."""
    body: dict[str, Any] = {
        "statusCode": error.status,
        "error": error.kind,
        "message": session_message(error),
    }
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers = {
            "retry-after": str(error.retry_after_s),
            "x-ratelimit-limit": str(error.limit),
            "x-ratelimit-remaining": str(max(0, error.limit - error.in_use)),
            "x-ratelimit-reset": str(error.retry_after_s),
            "x-should-retry": "true",
        }
    elif error.status >= 500 or error.status == 409:
        # the SDK retries 409/5xx (POST included): a retried create would start another browser
        headers = {"x-should-retry": "false"}
    return JSONResponse(body, status_code=error.status, headers=headers)


def connect_url(request: Request, public_url: str | None, session_id: str, signing_key: str) -> str:
    """``ws(s)://host/v1/sessions/{id}/connect?signingKey=KEY`` on ``public_url``, else an allowed
    host the client used, else the address it reached (core/public_base.py: never a foreign Host)."""
    base = urlsplit(public_url or client_base(request))
    scheme = "wss" if base.scheme == "https" else "ws"
    path = base.path.rstrip("/")
    return f"{scheme}://{base.netloc}{path}/v1/sessions/{session_id}/connect?signingKey={quote(signing_key)}"


def selenium_remote_url(connect: str) -> str:
    """``http(s)://host/v1/sessions/{id}/webdriver`` (node/session/routes/webdriver.py), from the
    connect URL."""
    return connect.replace("ws", "http", 1).split("/connect?")[0] + "/webdriver"


def _fields(view: SessionView) -> dict[str, Any]:
    job, spec = view.job, view.spec
    ended: datetime | None = job.finished_at if job.state.terminal else None
    return {
        "id": job.id,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "started_at": view.started_at,
        "expires_at": view.expires_at,
        "project_id": job.project_id,
        "status": view.status.value,
        "proxy_bytes": view.proxy_bytes,
        "keep_alive": spec.keep_alive,
        "region": spec.region,
        "context_id": spec.context_id,
        "ended_at": ended,
        "user_metadata": spec.user_metadata,
    }


def _with_connect(request: Request, fleet: FleetDep, view: SessionView) -> SessionWithConnect:
    if view.job.state.terminal or view.signing_key is None:  # nothing to connect to (any more)
        return SessionWithConnect(**_fields(view))
    url = connect_url(request, fleet.settings.public_url, view.job.id, view.signing_key)
    return SessionWithConnect(
        **_fields(view),
        connect_url=url,
        selenium_remote_url=selenium_remote_url(url),
        signing_key=view.signing_key,
    )


@router.post(
    "/sessions",
    status_code=201,
    response_model=CreatedSession,
    response_model_by_alias=True,
    responses=CREATE_ANSWERS,
)
async def create_session(
    body: CreateSessionRequest, request: Request, project: ProjectDep, fleet: FleetDep
) -> CreatedSession:
    view = await fleet.sessions.create(project, body.to_request())
    assert view.signing_key is not None  # create always hands the key to its creator
    url = connect_url(request, fleet.settings.public_url, view.job.id, view.signing_key)
    return CreatedSession(
        **_fields(view),
        connect_url=url,
        selenium_remote_url=selenium_remote_url(url),
        signing_key=view.signing_key,
    )


@router.get("/sessions", response_model=list[SessionModel], response_model_by_alias=True)
async def list_sessions(
    project: ProjectDep,
    fleet: FleetDep,
    status: Annotated[Status | None, Query()] = None,
    q: Annotated[str | None, Query(max_length=2000, json_schema_extra={"pattern": METADATA_QUERY})] = None,
) -> list[SessionModel]:
    views = await fleet.sessions.list(project, status=SessionStatus(status) if status else None, q=q)
    return [SessionModel(**_fields(view)) for view in views]


@router.get(
    "/sessions/{session_id}",
    response_model=SessionWithConnect,
    response_model_by_alias=True,
    responses=NOT_FOUND,
)
async def get_session(
    session_id: str, request: Request, project: ProjectDep, fleet: FleetDep
) -> SessionWithConnect:
    """An ended session's answer has an ``ETag`` and is served from memory (api/finished.py)."""
    view = await fleet.sessions.get(project, session_id)
    if view.job.state.terminal:
        final(request, project)
    return _with_connect(request, fleet, view)


@router.post(
    "/sessions/{session_id}", response_model=SessionModel, response_model_by_alias=True, responses=NOT_FOUND
)
async def update_session(
    session_id: str, body: UpdateSessionRequest, project: ProjectDep, fleet: FleetDep
) -> SessionModel:
    """``{status: "REQUEST_RELEASE"}`` ends the session (idempotent)."""
    return SessionModel(**_fields(await fleet.sessions.release(project, session_id)))
