"""Browsing: submit a task (text, template, filter, fanout, screenshot mode), follow its status
live, its step screenshots as a gallery, its payload."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from browserfleet.api.browsing.routes import create_async
from browserfleet.api.browsing.schemas import BrowsingTaskRequest, status_body
from browserfleet.console.forms import validated
from browserfleet.console.paging import Pager
from browserfleet.console.web import PREFIX, FleetDep, FormDep, ProjectDep, render
from browserfleet.core.browsing.templates import ScreenshotMode
from browserfleet.core.errors import BrowserfleetError
from browserfleet.store.records import ProjectRecord

router = APIRouter(prefix="/browsing")
MODES = get_args(ScreenshotMode)


@router.get("")
async def browsing_page(
    request: Request, project: ProjectDep, fleet: FleetDep, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> HTMLResponse:
    return await _page(request, project, fleet, page)


async def _page(
    request: Request, project: ProjectRecord, fleet: FleetDep, page: int = 1, **extra: Any
) -> HTMLResponse:
    status = int(extra.pop("status", 200))
    at = Pager.of(page, 0)
    found = await fleet.browsing.page(project, offset=at.offset, limit=at.per_page)
    return render(
        request,
        "browsing/list.html",
        status=status,
        tasks=found.jobs,
        pager=Pager.of(page, found.total),
        modes=MODES,
        templates=fleet.browsing.templates.names,
        values=extra.pop("values", {}),
        **extra,
    )


def request_body(form: FormData) -> dict[str, Any]:
    """The form as the API's create body: ``filter`` and ``screenshots`` are objects on the wire."""

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    body: dict[str, Any] = {"task": text("task")}
    for name in ("template", "session_key"):
        if text(name):
            body[name] = text(name)
    for name in ("fanout", "timeout"):
        if text(name):
            body[name] = int(text(name)) if text(name).isdigit() else text(name)
    if text("country_iso") or text("node_uid"):
        body["filter"] = {k: text(k) for k in ("country_iso", "node_uid") if text(k)}
    if text("screenshot_mode"):
        body["screenshots"] = {
            "mode": text("screenshot_mode"),
            "full_page": form.get("full_page") is not None,
        }
    return body


@router.post("", response_model=None)
async def browsing_create(request: Request, project: ProjectDep, fleet: FleetDep, form: FormDep) -> Response:
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        body = validated(BrowsingTaskRequest, request_body(form))
        created = await create_async(body, project, fleet)  # the API's own route
    except BrowserfleetError as exc:
        return await _page(request, project, fleet, status=exc.status, error=exc, values=values)
    return RedirectResponse(f"{PREFIX}/browsing/{created.task_id}", status_code=303)


@router.get("/{task_id}")
async def browsing_task(request: Request, task_id: str, project: ProjectDep, fleet: FleetDep) -> HTMLResponse:
    view = await fleet.browsing.view(project, task_id)
    return render(request, "browsing/detail.html", view=view, body=status_body(view))


@router.get("/{task_id}/state")
async def browsing_state(task_id: str, project: ProjectDep, fleet: FleetDep) -> JSONResponse:
    view = await fleet.browsing.view(project, task_id)
    return JSONResponse({"state": view.status})


@router.get("/{task_id}/screenshots/{name}")
async def browsing_screenshot(task_id: str, name: str, project: ProjectDep, fleet: FleetDep) -> Response:
    data = await fleet.browsing.screenshot(project, task_id, name)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=600"})
