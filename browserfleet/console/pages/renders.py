"""Renders: the paged, filtered history; one render's page (screenshot, sandboxed HTML preview,
timings, fetches, geo, bandwidth, captcha); the form that starts one with every API option."""

from __future__ import annotations

import gzip
import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from browserfleet.api.renders.routes import create_render
from browserfleet.api.renders.schemas import CreateRenderRequest
from browserfleet.console.forms import body_of, fields_of, validated
from browserfleet.console.paging import Pager
from browserfleet.console.web import PREFIX, FleetDep, FormDep, ProjectDep, render
from browserfleet.core.errors import InvalidRequest, NotFound
from browserfleet.core.jobs import JobState
from browserfleet.store.records import ProjectRecord
from browserfleet.store.repo.listing import JobFilter

if TYPE_CHECKING:
    from browserfleet.fleet import Fleet

router = APIRouter(prefix="/renders")
FIELDS = fields_of(CreateRenderRequest)
# the preview is the page's HTML with nothing of it able to run: no scripts, no requests out
PREVIEW_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
STATES = [s.value for s in JobState]


def _filters(
    status: str | None,
    url: str | None,
    error: str | None,
    min_ms: int | None,
    max_ms: int | None,
    charged: str | None,
) -> JobFilter:
    states = (JobState(status),) if status in STATES else ()
    return JobFilter(
        states=states,
        url=url or None,
        error_code=error or None,
        min_ms=min_ms,
        max_ms=max_ms,
        charged={"yes": True, "no": False}.get(charged or ""),
    )


@router.get("")
async def render_list(
    request: Request,
    project: ProjectDep,
    fleet: FleetDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    status: str | None = None,
    url: Annotated[str | None, Query(max_length=2000)] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    error: Annotated[str | None, Query(max_length=40)] = None,
    min_ms: int | None = None,
    max_ms: int | None = None,
    charged: str | None = None,
) -> HTMLResponse:
    filters = _filters(status, url, error, min_ms, max_ms, charged)
    pager = Pager.of(page, 0)
    found = await fleet.renders.page(
        project, filters, country=country or None, offset=pager.offset, limit=pager.per_page
    )
    return render(
        request,
        "renders/list.html",
        renders=found.jobs,
        pager=Pager.of(page, found.total),
        states=STATES,
        query=request.query_params,
    )


@router.get("/new")
async def render_form(request: Request, project: ProjectDep) -> HTMLResponse:
    return render(request, "renders/new.html", fields=FIELDS, values={})


@router.post("", response_model=None)
async def render_create(request: Request, project: ProjectDep, fleet: FleetDep, form: FormDep) -> Response:
    values = {f.name: form.get(f.name) for f in FIELDS}
    try:
        body = validated(CreateRenderRequest, body_of(form, FIELDS))
        created = await create_render(body, project, fleet)  # the API's own route: same rules
    except InvalidRequest as exc:
        return render(request, "renders/new.html", status=400, fields=FIELDS, values=values, error=exc)
    return RedirectResponse(f"{PREFIX}/renders/{created.render_id}", status_code=303)


@router.get("/{render_id}")
async def render_page(request: Request, render_id: str, project: ProjectDep, fleet: FleetDep) -> HTMLResponse:
    view = await fleet.renders.get(project, render_id)
    result = view.job.result or {}
    fetches: Any = json.loads(gzip.decompress(view.fetch_gz)) if view.fetch_gz else None
    return render(
        request,
        "renders/detail.html",
        job=view.job,
        result=result,
        has_html=view.html_gz is not None,
        has_screenshot=view.screenshot is not None,
        html_bytes=len(gzip.decompress(view.html_gz)) if view.html_gz else 0,
        waterfall=waterfall(result.get("timingBreakdown") or {}),
        fetches=fetches,
    )


def waterfall(timings: dict[str, int]) -> list[dict[str, Any]]:
    """The phases of ``timingBreakdown`` one after another, as offsets and widths (percent)."""
    phases = [
        (k.removesuffix("Ms"), int(v)) for k, v in timings.items() if k != "totalMs" and isinstance(v, int)
    ]
    total = max(int(timings.get("totalMs", 0) or 0), sum(ms for _, ms in phases), 1)
    bars, start = [], 0
    for name, ms in phases:
        bars.append(
            {"name": name, "ms": ms, "left": 100 * start / total, "width": max(0.5, 100 * ms / total)}
        )
        start += ms
    return bars


@router.get("/{render_id}/screenshot")
async def render_screenshot(render_id: str, project: ProjectDep, fleet: FleetDep) -> Response:
    view = await fleet.renders.get(project, render_id)
    if view.screenshot is None:
        raise NotFound("This render has no screenshot")
    kind = (view.job.result or {}).get("screenshotFormat") or "jpeg"
    return Response(
        view.screenshot, media_type=f"image/{kind}", headers={"Cache-Control": "private, max-age=600"}
    )


@router.get("/{render_id}/preview")
async def render_preview(render_id: str, project: ProjectDep, fleet: FleetDep) -> Response:
    """The page's HTML for the sandboxed iframe: served with a CSP that runs none of it."""
    html = await _html(project, fleet, render_id)
    return Response(
        html, media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": PREVIEW_CSP}
    )


@router.get("/{render_id}/html")
async def render_html(render_id: str, project: ProjectDep, fleet: FleetDep) -> Response:
    html = await _html(project, fleet, render_id)
    disposition = f'attachment; filename="{render_id}.html"'
    headers = {"Content-Disposition": disposition, "Content-Security-Policy": PREVIEW_CSP}
    return Response(html, media_type="application/octet-stream", headers=headers)


async def _html(project: ProjectRecord, fleet: Fleet, render_id: str) -> bytes:
    view = await fleet.renders.get(project, render_id)
    if view.html_gz is None:
        raise NotFound("This render has no HTML")
    return gzip.decompress(view.html_gz)
