"""Recording downloads: one MP4 per recorded page of an ended session (docs/sessions.md).

``POST /v1/sessions/{id}/recording/downloads`` asks for the videos (encoded in the background by
node/session/videos.py from the screencast frames the node kept); ``GET`` reads their statuses.
Both answer ``{downloads: [{pageId, status, downloadUrl?, completedAt?}]}``, one entry per page
that painted at least one frame (``[]`` for a session with ``recordSession: false``), and 409 while
the session runs. A ``COMPLETED`` page's ``downloadUrl`` is signed and short-lived (re-minted by
each call, ``session_video_url_ttl_s``); the same path also answers with the project's API key.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from browserfleet.core.accounts import api_key_of
from browserfleet.core.errors import Conflict, NotFound
from browserfleet.core.public_base import client_base
from browserfleet.core.sessions.wire import omitted
from browserfleet.node.session.routes.deps import ProjectDep, ServicesDep, SessionServices
from browserfleet.node.session.videos import PageVideo, VideoStatus
from browserfleet.store.records import ProjectRecord

router = APIRouter(tags=["sessions"])  # mounted under /v1 by node/session/routes/__init__.py
PATH = "/sessions/{session_id}/recording/downloads"
ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such session (or another project's)"},
    409: {"description": "The session has not ended yet"},
    503: {"description": "Distributed mode: the session's node did not answer"},
}
MP4_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The page's video",
        "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
    },
    401: {"description": "Without a valid signature: an invalid API key"},
    404: {"description": "No such video, or a wrong or expired signature without an API key"},
    503: {"description": "Distributed mode: the session's node did not answer"},
}
# the signed downloadUrl is its own credential; the project's API key opens the path too
SIGNED_OR_KEY: dict[str, Any] = {"security": [{}, {"BearerAuth": []}, {"BrowserbaseAuth": []}]}
MP4 = ".mp4"
# a page number as the downloads list writes it: ASCII digits, no leading zero, at most 9 of them
# (str.isdigit() also takes other scripts' digits, which int() reads: U+0660 would be page 0)
PAGE_NUMBER = re.compile(r"0|[1-9][0-9]{0,8}")


class RecordingDownload(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    page_id: str = Field(alias="pageId")
    status: Literal["NOT_REQUESTED", "PENDING", "COMPLETED", "FAILED"]
    download_url: str | SkipJsonSchema[None] = omitted("downloadUrl", format="uri")
    completed_at: datetime | SkipJsonSchema[None] = omitted("completedAt")


class RecordingDownloads(BaseModel):
    downloads: list[RecordingDownload]


@router.post(
    PATH,
    summary="Ask for one MP4 per recorded page of an ended session",
    response_model=RecordingDownloads,
    responses=ANSWERS,
)
async def request_recording_downloads(
    session_id: str, request: Request, project: ProjectDep, services: ServicesDep
) -> JSONResponse:
    await _ended(services, project, session_id)
    return _answer(request, services, session_id, await services.session_videos.request(session_id))


@router.get(
    PATH,
    summary="The per-page status of a session's recording downloads",
    response_model=RecordingDownloads,
    responses=ANSWERS,
)
async def recording_downloads(
    session_id: str, request: Request, project: ProjectDep, services: ServicesDep
) -> JSONResponse:
    await _ended(services, project, session_id)
    return _answer(request, services, session_id, await services.session_videos.statuses(session_id))


@router.get(
    PATH + "/{name}",
    summary="A page's MP4 (signed downloadUrl, or the project's API key)",
    response_class=Response,
    responses=MP4_ANSWERS,
    openapi_extra=SIGNED_OR_KEY,
)
async def recording_download(
    session_id: str, name: str, request: Request, services: ServicesDep, sig: str = "", expires: int = 0
) -> Response:
    page = name.removesuffix(MP4)
    if not name.endswith(MP4) or not PAGE_NUMBER.fullmatch(page):
        raise NotFound("File not found")
    if not (sig and services.session_video_urls.verify(session_id, name, sig, expires)):
        if api_key_of(request.headers) is None:
            raise NotFound("File not found")  # a wrong or expired signature says no more than that
        project = await services.accounts.authenticate(api_key_of(request.headers))
        await services.sessions.get(project, session_id)  # another project's session: 404
    data = await services.session_videos.video(session_id, int(page))
    if data is None:
        raise NotFound("File not found")
    disposition = f'attachment; filename="{session_id}-page-{page}.mp4"'
    return Response(data, media_type="video/mp4", headers={"Content-Disposition": disposition})


async def _ended(services: SessionServices, project: ProjectRecord, session_id: str) -> None:
    """404 for an unknown (or another project's) session; 409 while it has not ended."""
    view = await services.sessions.get(project, session_id)
    if not view.job.state.terminal:
        message = f"Session {session_id} is {view.status.value}: recording downloads are made once it ended"
        raise Conflict(message)


def _answer(
    request: Request, services: SessionServices, session_id: str, videos: list[PageVideo]
) -> JSONResponse:
    base = client_base(request)
    expires = int(time.time() + services.settings.session_video_url_ttl_s)
    downloads = [
        RecordingDownload(
            page_id=str(video.page_id),
            status=video.status.value,
            completed_at=video.completed_at,
            download_url=(
                services.session_video_urls.url(base, session_id, f"{video.page_id}{MP4}", expires)
                if video.status is VideoStatus.COMPLETED
                else None
            ),
        )
        for video in videos
    ]
    body = RecordingDownloads(downloads=downloads).model_dump(mode="json", by_alias=True, exclude_none=True)
    return JSONResponse(body)
