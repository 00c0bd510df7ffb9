"""Contexts (saved browser profiles) and extensions: list, create or upload, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from browserfleet.console.paging import Pager
from browserfleet.console.web import PREFIX, FleetDep, FormDep, ProjectDep, render
from browserfleet.core.errors import BrowserfleetError, InvalidRequest
from browserfleet.store.records import ProjectRecord

router = APIRouter(prefix="/library")
PER_PAGE = 20


@router.get("")
async def library(
    request: Request,
    project: ProjectDep,
    fleet: FleetDep,
    contexts_page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    extensions_page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    return await _page(request, project, fleet, contexts_page, extensions_page)


async def _page(
    request: Request,
    project: ProjectRecord,
    fleet: FleetDep,
    contexts_page: int = 1,
    extensions_page: int = 1,
    *,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    at = Pager.of(contexts_page, 0, PER_PAGE)
    contexts, n_contexts = await fleet.contexts.page(project, offset=at.offset, limit=PER_PAGE)
    at_ext = Pager.of(extensions_page, 0, PER_PAGE)
    extensions, n_ext = await fleet.extensions.page(project, offset=at_ext.offset, limit=PER_PAGE)
    return render(
        request,
        "library.html",
        status=status,
        contexts=contexts,
        contexts_pager=Pager.of(contexts_page, n_contexts, PER_PAGE),
        extensions=extensions,
        extensions_pager=Pager.of(extensions_page, n_ext, PER_PAGE),
        error=error,
    )


@router.post("/contexts")
async def create_context(request: Request, project: ProjectDep, fleet: FleetDep, form: FormDep) -> Response:
    name = form.get("name")
    await fleet.contexts.create(project, name.strip() or None if isinstance(name, str) else None)
    return RedirectResponse(f"{PREFIX}/library", status_code=303)


@router.post("/contexts/{context_id}/upload")
async def upload_profile(
    request: Request, context_id: str, project: ProjectDep, fleet: FleetDep, form: FormDep
) -> Response:
    """A profile archive (zip, tar or tar.gz of a user data folder) into the context."""
    try:
        data = await _file(form.get("file"), fleet.contexts.max_bytes, "a profile archive")
        await fleet.contexts.upload_archive(project, context_id, data)  # the API's checks
    except BrowserfleetError as exc:
        return await _page(request, project, fleet, status=exc.status, error=exc.message)
    return RedirectResponse(f"{PREFIX}/library", status_code=303)


async def _file(upload: object, limit: int, what: str) -> bytes:
    """The posted file's bytes (at most ``limit`` + 1 of them), its upload closed."""
    if not isinstance(upload, UploadFile):
        raise InvalidRequest(f"Choose {what}")
    try:
        return await upload.read(limit + 1)
    finally:
        await upload.close()


@router.post("/contexts/{context_id}/delete")
async def delete_context(context_id: str, project: ProjectDep, fleet: FleetDep, form: FormDep) -> Response:
    await fleet.contexts.delete(project, context_id)
    return RedirectResponse(f"{PREFIX}/library", status_code=303)


@router.post("/extensions")
async def upload_extension(request: Request, project: ProjectDep, fleet: FleetDep, form: FormDep) -> Response:
    upload = form.get("file")
    try:
        data = await _file(upload, fleet.extensions.limits.max_bytes, "a zip of an unpacked Chrome extension")
        name = upload.filename if isinstance(upload, UploadFile) else None
        await fleet.extensions.create(project, name, data)  # the API's checks
    except BrowserfleetError as exc:
        return await _page(request, project, fleet, status=exc.status, error=exc.message)
    return RedirectResponse(f"{PREFIX}/library", status_code=303)


@router.post("/extensions/{extension_id}/delete")
async def delete_extension(
    extension_id: str, project: ProjectDep, fleet: FleetDep, form: FormDep
) -> Response:
    await fleet.extensions.delete(project, extension_id)
    return RedirectResponse(f"{PREFIX}/library", status_code=303)
