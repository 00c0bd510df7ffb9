"""Routes of the Renders family. Thin: validate, authenticate, call core, shape the reply."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from browserfleet.api.deps import FleetDep, ProjectDep
from browserfleet.api.finished import final
from browserfleet.api.renders.schemas import (
    CreateRenderRequest,
    CreateRenderResponse,
    Region,
    RegionsResponse,
    RenderCompleted,
    RenderFailed,
    RenderProcessing,
)
from browserfleet.core.billing import balance
from browserfleet.core.geo import catalogue
from browserfleet.core.jobs import JobState
from browserfleet.core.renders import RenderView

router = APIRouter(prefix="/v1", tags=["renders"])
RETRY_AFTER_S = 1
CREATE_ANSWERS: dict[int | str, dict[str, Any]] = {
    402: {"description": "The balance does not cover one more render"},
    429: {"description": "The project's concurrent renders are at its limit (Retry-After)"},
    503: {"description": "Distributed mode: admission could not be decided in time"},
}
GET_ANSWERS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such render, another project's, or older than the API window"},
    422: {"description": "The render failed (its errorCode says why)", "model": RenderFailed},
}


@router.post(
    "/renders",
    status_code=201,
    response_model=CreateRenderResponse,
    response_model_by_alias=True,
    responses=CREATE_ANSWERS,
)
async def create_render(
    body: CreateRenderRequest, project: ProjectDep, fleet: FleetDep
) -> CreateRenderResponse:
    city = catalogue().resolve(body.country_code, body.city)
    fleet.renders.check_exit(city, field="city" if body.city else "countryCode")
    job = await fleet.renders.create(project, body.to_spec(city.name if city else None))
    return CreateRenderResponse(render_id=job.id)


@router.get("/renders/{render_id}", response_model=RenderProcessing | RenderCompleted, responses=GET_ANSWERS)
async def get_render(
    render_id: str,
    request: Request,
    project: ProjectDep,
    fleet: FleetDep,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for a terminal state")] = 0,
) -> JSONResponse:
    """``processing`` (200), ``completed`` (200) or ``failed`` (422). ``wait`` long-polls. A
    finished render's answer has an ``ETag`` and is served from memory (api/finished.py)."""
    view = await (
        fleet.renders.wait(project, render_id, wait) if wait else fleet.renders.get(project, render_id)
    )
    state = view.job.state
    if not state.terminal:
        return JSONResponse({"status": "processing", "retryAfter": RETRY_AFTER_S})
    final(request, project, until=fleet.renders.visible_until(view.job))
    if state is JobState.COMPLETED:
        return JSONResponse(completed_body(view))
    return JSONResponse(failed_body(view), status_code=422)


def _billing(view: RenderView) -> dict[str, Any]:
    job = view.job
    return {
        "billable": job.billable,
        "charged": job.charged_cents > 0,
        "chargedAmountCents": job.charged_cents,
        "retryAfter": RETRY_AFTER_S,
    }


def completed_body(view: RenderView) -> dict[str, Any]:
    result = view.job.result or {}
    body: dict[str, Any] = {
        "status": "completed",
        "html": _b64(view.html_gz) if view.html_gz is not None else None,
        "loadStrategy": result.get("loadStrategy", "default"),
        "selectedCity": result.get("selectedCity"),
        "bandwidthMetrics": result.get("bandwidthMetrics"),
        "captcha": result.get("captcha"),
        "geoExit": result.get("geoExit"),
        "timingBreakdown": result.get("timingBreakdown"),
    }
    if view.fetch_gz is not None:
        body["fetchResponses"] = _b64(view.fetch_gz)
    if view.screenshot is not None:
        body["screenshot"] = _b64(view.screenshot)
    return body | _billing(view)


def failed_body(view: RenderView) -> dict[str, Any]:
    job = view.job
    return {
        "status": "failed",
        "id": job.id,
        "errorCode": job.error_code,
        "errorMessage": job.error_message,
        "error": "Render failed",
        "message": job.error_message,
    } | _billing(view)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@router.get("/account/balance")
async def account_balance(project: ProjectDep, fleet: FleetDep) -> dict[str, object]:
    return (await balance(fleet.store, project.id)).to_wire()


@router.get("/regions", response_model=RegionsResponse)
async def regions(fleet: FleetDep) -> RegionsResponse:
    """Public. A region is a group of nodes; embedded mode has one, ``local``."""
    nodes = await fleet.dispatcher.registry.nodes()
    names = {fleet.settings.node_region: fleet.settings.node_region_name}
    active = {n.labels.region for n in nodes}
    codes = sorted(active | set(names))
    return RegionsResponse(
        regions=[
            Region(code=c, name=names.get(c, c), status="active" if c in active else "inactive")
            for c in codes
        ]
    )
