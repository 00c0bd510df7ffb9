"""What a session leaves behind: its CDP log and its rrweb recording (docs/sessions.md).

While the session runs, both come from the node's memory (the live session in this process's
registry); once it ended, from the blobs the node stored at the end (kept ``debug_retention_days``).
A session that asked for neither (``logSession``/``recordSession`` false) answers ``[]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from browserfleet.core.sessions.history import LOG_BLOB, RECORDING_BLOB, stored_records
from browserfleet.core.sessions.wire import omitted
from browserfleet.node.session.live import LiveSession
from browserfleet.node.session.log import SessionLog as LiveLog
from browserfleet.node.session.recording import SessionRecording as LiveRecording
from browserfleet.node.session.routes.deps import ProjectDep, ServicesDep, SessionServices
from browserfleet.store.records import ProjectRecord

SessionHistory = LiveLog | LiveRecording  # what a live session keeps in memory (logs, rrweb events)

router = APIRouter(tags=["sessions"])  # mounted under /v1 by node/session/routes/__init__.py
ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such session (or another project's)"},
    503: {"description": "Distributed mode: the session's node did not answer"},
}


class _Documented(BaseModel):
    """The records are plain objects (node/session/log.py, recording.py); these models document
    them (Browserbase's ``SessionLog`` and ``SessionRecording``)."""

    model_config = ConfigDict(extra="allow")


class SessionLogRequest(_Documented):
    timestamp: int | SkipJsonSchema[None] = omitted(description="ms since the Unix epoch")
    params: dict[str, Any]
    raw_body: str = Field(alias="rawBody")


class SessionLogResponse(_Documented):
    timestamp: int | SkipJsonSchema[None] = omitted(description="ms since the Unix epoch")
    result: dict[str, Any]
    raw_body: str = Field(alias="rawBody")


class SessionLog(_Documented):
    """One CDP command of a client and the browser's answer."""

    method: str
    page_id: int = Field(alias="pageId", description="the page, numbered from 0; -1: the browser")
    session_id: str = Field(alias="sessionId")
    request: SessionLogRequest | SkipJsonSchema[None] = omitted()
    response: SessionLogResponse | SkipJsonSchema[None] = omitted(description="absent until answered")
    timestamp: int | SkipJsonSchema[None] = omitted(description="ms since the Unix epoch")
    frame_id: str | SkipJsonSchema[None] = omitted("frameId")
    loader_id: str | SkipJsonSchema[None] = omitted("loaderId")


class SessionRecording(_Documented):
    """One rrweb event of a page."""

    data: dict[str, Any] = Field(description="the rrweb event's data")
    session_id: str = Field(alias="sessionId")
    timestamp: int = Field(description="ms since the Unix epoch")
    type: int = Field(description="the rrweb event type")
    page_id: int | SkipJsonSchema[None] = omitted("pageId", description="the page (as in the logs)")


@router.get(
    "/sessions/{session_id}/logs",
    summary="SessionLog[]: the CDP traffic of the session's clients",
    response_model=list[SessionLog],
    responses=ANSWERS,
)
async def session_logs(session_id: str, project: ProjectDep, services: ServicesDep) -> JSONResponse:
    return await _history(services, project, session_id, lambda live: live.log, LOG_BLOB)


@router.get(
    "/sessions/{session_id}/recording",
    summary="SessionRecording[]: rrweb events of every page",
    response_model=list[SessionRecording],
    responses=ANSWERS,
)
async def session_recording(session_id: str, project: ProjectDep, services: ServicesDep) -> JSONResponse:
    return await _history(services, project, session_id, lambda live: live.recording, RECORDING_BLOB)


async def _history(
    services: SessionServices,
    project: ProjectRecord,
    session_id: str,
    part: Callable[[LiveSession], SessionHistory | None],
    blob: str,
) -> JSONResponse:
    """A live session's records from its node's memory; an ended one's from its blob."""
    view = await services.sessions.get(project, session_id)
    if view.job.state.terminal:
        return JSONResponse(await stored_records(services.blobs, session_id, blob))
    live = services.live_sessions.get(session_id)
    history = part(live) if live is not None else None
    return JSONResponse(history.snapshot() if history is not None else [])
