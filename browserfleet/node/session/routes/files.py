"""A session's files (docs/sessions.md "Downloads" and "Uploads"; node/session/files.py).

``GET /v1/sessions/{id}/downloads`` → a zip of what the session's pages downloaded (an empty zip
when nothing was): from the node's folder while the session runs, from the ``downloads.zip`` blob
once it ended (kept ``debug_retention_days``). ``DELETE`` empties it (204).

``POST /v1/sessions/{id}/uploads`` (multipart, one part ``file``) stores the file on the session's
node, as ``<session files>/uploads/<name>``; the answer's ``message`` (and an extra ``path``) name
it ``/uploads/<name>`` (core/firewall/cdp.py ``UPLOADS_PATH``: where a contained browser sees it,
and what the protocol firewall maps to the file for CDP ``DOM.setFileInputFiles`` and WebDriver
Send Keys), never the node's folders. Only while the session runs (else 409); larger than
``session_upload_max_bytes`` → 413.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from browserfleet.core.errors import Conflict, PayloadTooLarge
from browserfleet.core.firewall.cdp import UPLOADS_PATH
from browserfleet.core.multipart import file_part, file_part_body
from browserfleet.core.sessions import SessionStatus
from browserfleet.core.sessions.history import DOWNLOADS_BLOB
from browserfleet.node.session.files import zip_files
from browserfleet.node.session.routes.deps import ProjectDep, ServicesDep

router = APIRouter(tags=["sessions"])  # mounted under /v1 by node/session/routes/__init__.py
BINARY = {"type": "string", "format": "binary"}
ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such session (or another project's)"},
    503: {"description": "Distributed mode: the session's node did not answer"},
}
ZIP: dict[int | str, dict[str, Any]] = {
    200: {"description": "A zip of the downloaded files", "content": {"application/zip": {"schema": BINARY}}}
}
UPLOAD_ANSWERS: dict[int | str, dict[str, Any]] = {
    409: {"description": "The session is not running"},
    413: {"description": "The file is larger than session_upload_max_bytes"},
}


class UploadedFile(BaseModel):
    """What ``POST /v1/sessions/{id}/uploads`` answers (Browserbase's)."""

    model_config = ConfigDict(extra="allow")

    message: str


def _zip(data: bytes, session_id: str) -> Response:
    disposition = f'attachment; filename="{session_id}-downloads.zip"'
    return Response(data, media_type="application/zip", headers={"Content-Disposition": disposition})


@router.get(
    "/sessions/{session_id}/downloads",
    summary="A zip of the files the session's pages downloaded",
    response_class=Response,
    responses={**ZIP, **ANSWERS},
)
async def session_downloads(session_id: str, project: ProjectDep, services: ServicesDep) -> Response:
    view = await services.sessions.get(project, session_id)
    if not view.job.state.terminal:
        live = services.live_sessions.get(session_id)
        if live is not None and live.files is not None:
            await live.files.settle()
            return _zip(await asyncio.to_thread(live.files.zip_downloads), session_id)
        return _zip(zip_files([]), session_id)
    stored = await services.blobs.get(session_id, DOWNLOADS_BLOB)
    return _zip(stored if stored is not None else zip_files([]), session_id)


@router.delete(
    "/sessions/{session_id}/downloads",
    status_code=204,
    summary="Delete the session's downloads",
    response_class=Response,
    responses=ANSWERS,
)
async def delete_session_downloads(session_id: str, project: ProjectDep, services: ServicesDep) -> Response:
    view = await services.sessions.get(project, session_id)
    live = services.live_sessions.get(session_id)
    if not view.job.state.terminal and live is not None and live.files is not None:
        await live.files.settle()
        await asyncio.to_thread(live.files.clear_downloads)
    await services.blobs.delete(session_id, DOWNLOADS_BLOB)
    return Response(status_code=204)


@router.post(
    "/sessions/{session_id}/uploads",
    summary="Store a file on the session's node for file inputs",
    response_model=UploadedFile,
    responses={**ANSWERS, **UPLOAD_ANSWERS},
    openapi_extra={"requestBody": file_part_body("the file (at most session_upload_max_bytes)")},
)
async def upload_session_file(
    session_id: str, request: Request, project: ProjectDep, services: ServicesDep
) -> JSONResponse:
    view = await services.sessions.get(project, session_id)
    live = services.live_sessions.get(session_id)
    if view.status is not SessionStatus.RUNNING or live is None or live.files is None:
        raise Conflict(f"Session {session_id} is not running (status {view.status.value})")
    limit = services.settings.session_upload_max_bytes
    too_large = f"The file is larger than the {limit} byte upload limit"
    async with file_part(request, limit, too_large=too_large, what="the file") as upload:
        if upload.size is not None and upload.size > limit:
            raise PayloadTooLarge(too_large)
        path = await asyncio.to_thread(live.files.save_upload, upload.filename, upload.file)
    if path.stat().st_size > limit:  # a chunked body without a size on its part
        path.unlink(missing_ok=True)
        raise PayloadTooLarge(too_large)
    named = f"{UPLOADS_PATH}/{path.name}"  # the data folder's location is none of the client's business
    return JSONResponse({"message": f"Uploaded {path.name} to {named}", "path": named})
