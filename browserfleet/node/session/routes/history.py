"""What a session leaves behind: its CDP log and its rrweb recording (docs/sessions.md).

While the session runs, both come from the node's memory (the live session in this process's
registry); once it ended, from the blobs the node stored at the end (kept ``debug_retention_days``).
A session that asked for neither (``logSession``/``recordSession`` false) answers ``[]``.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from browserfleet.node.session.history import LOG_BLOB, RECORDING_BLOB
from browserfleet.node.session.routes.deps import ProjectDep, ServicesDep, SessionServices

router = APIRouter(tags=["sessions"])  # mounted under /v1 by node/session/routes/__init__.py


@router.get("/sessions/{session_id}/logs", summary="SessionLog[]: the CDP traffic of the session's clients")
async def session_logs(session_id: str, project: ProjectDep, services: ServicesDep) -> JSONResponse:
    view = await services.sessions.get(project, session_id)
    if not view.job.state.terminal:
        live = services.live_sessions.get(session_id)
        return JSONResponse(live.log.snapshot() if live is not None and live.log is not None else [])
    return JSONResponse(await _stored(services, session_id, LOG_BLOB))


@router.get("/sessions/{session_id}/recording", summary="SessionRecording[]: rrweb events of every page")
async def session_recording(session_id: str, project: ProjectDep, services: ServicesDep) -> JSONResponse:
    view = await services.sessions.get(project, session_id)
    if not view.job.state.terminal:
        live = services.live_sessions.get(session_id)
        return JSONResponse(
            live.recording.snapshot() if live is not None and live.recording is not None else []
        )
    return JSONResponse(await _stored(services, session_id, RECORDING_BLOB))


async def _stored(services: SessionServices, session_id: str, name: str) -> list[Any]:
    data = await services.blobs.get(session_id, name)
    if data is None:  # not asked for, or purged by retention
        return []
    records = json.loads(data)
    return records if isinstance(records, list) else []
