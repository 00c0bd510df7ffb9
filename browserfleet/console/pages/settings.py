"""Keys and project settings: create a key (shown once), revoke one, the concurrency limit and
default timeout, the webhook signing secret."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from browserfleet.console.web import PREFIX, FleetDep, FormDep, ProjectDep, render
from browserfleet.core.errors import InvalidRequest
from browserfleet.store.records import ProjectRecord

router = APIRouter(prefix="/settings")


async def _page(request: Request, project: ProjectRecord, fleet: FleetDep, **extra: object) -> HTMLResponse:
    status = int(str(extra.pop("status", 200)))
    return render(
        request,
        "settings.html",
        status=status,
        project=project,
        keys=await fleet.accounts.keys(project),
        webhook_secret=fleet.webhooks.secret_for(project.id),
        **extra,
    )


@router.get("")
async def settings_page(request: Request, project: ProjectDep, fleet: FleetDep) -> HTMLResponse:
    return await _page(request, project, fleet)


@router.post("/keys")
async def create_key(request: Request, project: ProjectDep, fleet: FleetDep, form: FormDep) -> HTMLResponse:
    created = await fleet.accounts.create_key(project.name)
    return await _page(request, project, fleet, new_key=created.key)  # shown this once


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, project: ProjectDep, fleet: FleetDep, form: FormDep) -> RedirectResponse:
    await fleet.accounts.revoke_key(project, key_id)
    return RedirectResponse(f"{PREFIX}/settings", status_code=303)


@router.post("/limits", response_model=None)
async def update_limits(request: Request, project: ProjectDep, fleet: FleetDep, form: FormDep) -> Response:
    try:
        concurrency = int(str(form.get("concurrency", "")))
        timeout_s = int(str(form.get("timeout_s", "")))
    except ValueError:
        return await _page(request, project, fleet, status=400, error="Both limits must be whole numbers")
    try:
        updated = await fleet.accounts.update_limits(project, concurrency=concurrency, timeout_s=timeout_s)
    except InvalidRequest as exc:
        return await _page(request, project, fleet, status=400, error=exc.message)
    return await _page(request, updated, fleet, saved=True)
