"""Sessions: the list (status and metadata filters), a session's page (live view while it runs;
logs, the rrweb replay, per-page videos and downloads once it ended; usage), the create form with
ready-to-run connect snippets, and release."""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from browserfleet.api.sessions.routes import connect_url, create_session, selenium_remote_url
from browserfleet.api.sessions.schemas import CreateSessionRequest
from browserfleet.console.forms import body_of, fields_of, validated
from browserfleet.console.paging import Pager
from browserfleet.console.snippets import snippets
from browserfleet.console.web import PREFIX, FleetDep, FormDep, JsonCsrfDep, ProjectDep, render
from browserfleet.core.errors import BrowserfleetError, InvalidRequest, NotFound
from browserfleet.core.sessions import SessionStatus, SessionView
from browserfleet.core.sessions.history import DOWNLOADS_BLOB, LOG_BLOB, RECORDING_BLOB, stored_records
from browserfleet.core.sessions.live_tokens import mint_token
from browserfleet.store.records import ProjectRecord

if TYPE_CHECKING:
    from browserfleet.fleet import Fleet

router = APIRouter(prefix="/sessions")
FIELDS = fields_of(CreateSessionRequest, skip=("projectId",))
STATUSES = [s.value for s in SessionStatus]
LIVE_TOKEN_S = 3600  # how long the embedded live view's token opens the session
LOG_ROWS = 500


class SessionVideos(Protocol):
    """The fleet's session videos (MP4s made from an ended session's screencast)."""

    async def statuses(self, session_id: str) -> list[Any]: ...
    async def request(self, session_id: str) -> list[Any]: ...
    async def video(self, session_id: str, page_id: int) -> bytes | None: ...


@router.get("")
async def session_list(
    request: Request,
    project: ProjectDep,
    fleet: FleetDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    status: str | None = None,
    q: Annotated[str | None, Query(max_length=2000)] = None,
) -> HTMLResponse:
    error: str | None = None
    views: list[SessionView] = []
    total = 0
    pager = Pager.of(page, 0)
    chosen = SessionStatus(status) if status in STATUSES else None
    try:
        views, total = await fleet.sessions.page(
            project, status=chosen, q=q or None, offset=pager.offset, limit=pager.per_page
        )
    except InvalidRequest as exc:  # a metadata query the API would refuse too
        error = exc.message
    pager = Pager.of(page, total)
    return render(
        request,
        "sessions/list.html",
        sessions=views,
        pager=pager,
        statuses=STATUSES,
        query=request.query_params,
        error=error,
    )


@router.get("/new")
async def session_form(request: Request, project: ProjectDep) -> HTMLResponse:
    return render(request, "sessions/new.html", fields=FIELDS, values={})


@router.post("", response_model=None)
async def session_create(request: Request, project: ProjectDep, fleet: FleetDep, form: FormDep) -> Response:
    values = {f.name: form.get(f.name) for f in FIELDS}
    try:
        body = validated(CreateSessionRequest, body_of(form, FIELDS))
        created = await create_session(body, request, project, fleet)  # the API's own route
    except BrowserfleetError as exc:
        return render(
            request, "sessions/new.html", status=exc.status, fields=FIELDS, values=values, error=exc
        )
    return RedirectResponse(f"{PREFIX}/sessions/{created.id}", status_code=303)


@router.get("/{session_id}")
async def session_page(
    request: Request, session_id: str, project: ProjectDep, fleet: FleetDep
) -> HTMLResponse:
    view = await fleet.sessions.get(project, session_id)
    running = view.status is SessionStatus.RUNNING and view.signing_key is not None
    ended = view.job.state.terminal
    live_url = None
    if running and view.signing_key is not None:
        token = mint_token(view.signing_key, session_id, LIVE_TOKEN_S)
        live_url = f"/v1/sessions/{session_id}/live?token={token}"
    connect = None
    if view.signing_key is not None and not ended:
        urls = create_session_urls(request, fleet, view, view.signing_key)
        connect = snippets(urls["connect_url"], urls["selenium_url"], view.signing_key)
    logs = (await stored_records(fleet.blobs, session_id, LOG_BLOB))[:LOG_ROWS] if ended else []
    return render(
        request,
        "sessions/detail.html",
        view=view,
        live_url=live_url,
        ended=ended,
        logs=logs,
        downloads=await _download_names(fleet, session_id) if ended else [],
        snippets=connect,
    )


def create_session_urls(
    request: Request, fleet: Fleet, view: SessionView, signing_key: str
) -> dict[str, str]:
    """The session's ``connectUrl`` and ``seleniumRemoteUrl``, as its API answer gives them."""
    url = connect_url(request, fleet.settings.public_url, view.job.id, signing_key)
    return {"connect_url": url, "selenium_url": selenium_remote_url(url)}


async def _download_names(fleet: Fleet, session_id: str) -> list[tuple[str, int]]:
    data = await fleet.blobs.get(session_id, DOWNLOADS_BLOB)
    if not data:
        return []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(i.filename, i.file_size) for i in archive.infolist()]


@router.post("/{session_id}/release")
async def session_release(
    session_id: str, project: ProjectDep, fleet: FleetDep, form: FormDep
) -> RedirectResponse:
    await fleet.sessions.release(project, session_id)
    return RedirectResponse(f"{PREFIX}/sessions/{session_id}", status_code=303)


@router.get("/{session_id}/recording.json")
async def session_recording(session_id: str, project: ProjectDep, fleet: FleetDep) -> JSONResponse:
    """The ended session's rrweb events, for the replay."""
    view = await fleet.sessions.get(project, session_id)
    if not view.job.state.terminal:
        return JSONResponse([])
    return JSONResponse(await stored_records(fleet.blobs, session_id, RECORDING_BLOB))


@router.get("/{session_id}/downloads.zip")
async def session_downloads(session_id: str, project: ProjectDep, fleet: FleetDep) -> Response:
    await fleet.sessions.get(project, session_id)
    data = await fleet.blobs.get(session_id, DOWNLOADS_BLOB)
    if data is None:
        raise NotFound("This session downloaded nothing")
    disposition = f'attachment; filename="{session_id}-downloads.zip"'
    return Response(data, media_type="application/zip", headers={"Content-Disposition": disposition})


@router.get("/{session_id}/videos.json")
async def video_statuses(session_id: str, project: ProjectDep, fleet: FleetDep) -> JSONResponse:
    return JSONResponse(await _videos(fleet, project, session_id, ask=False))


@router.post("/{session_id}/videos.json")
async def request_videos(
    session_id: str, project: ProjectDep, fleet: FleetDep, _csrf: JsonCsrfDep
) -> JSONResponse:
    """Ask for every page's MP4 (made in the background); the page polls the statuses."""
    return JSONResponse(await _videos(fleet, project, session_id, ask=True))


async def _videos(
    fleet: Fleet, project: ProjectRecord, session_id: str, *, ask: bool
) -> list[dict[str, Any]]:
    view = await fleet.sessions.get(project, session_id)
    if not view.job.state.terminal:
        return []
    videos: SessionVideos = fleet.session_videos
    found = await (videos.request(session_id) if ask else videos.statuses(session_id))
    return [
        {
            "page": v.page_id,
            "status": str(v.status.value if hasattr(v.status, "value") else v.status),
            "url": f"{PREFIX}/sessions/{session_id}/videos/{v.page_id}.mp4",
        }
        for v in found
    ]


@router.get("/{session_id}/videos/{page_id}.mp4")
async def session_video(session_id: str, page_id: int, project: ProjectDep, fleet: FleetDep) -> Response:
    await fleet.sessions.get(project, session_id)
    videos: SessionVideos = fleet.session_videos
    data = await videos.video(session_id, page_id)
    if data is None:
        raise NotFound("No such video (yet)")
    return Response(data, media_type="video/mp4", headers={"Cache-Control": "private, max-age=600"})
