"""Routes of the Automations family (Browserbear-style): auth, account, tasks, runs, run files.

Thin: authenticate and rate-limit (one dependency), call core/automations, shape the reply with
the wire serializers (core/automations/wire.py). Errors use this family's envelope
``{"message": ..., "details"?: [...]}``.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from browserfleet.api.automations.schemas import (
    AccountResponse,
    AuthResponse,
    CreateRunRequest,
    CreateTaskRequest,
    UpdateTaskRequest,
)
from browserfleet.api.deps import FleetDep, KeyDep
from browserfleet.api.errors import FieldError, envelope
from browserfleet.api.finished import final
from browserfleet.core.accounts import hash_key
from browserfleet.core.automations import run_object, task_object
from browserfleet.core.automations.files import FILES_PATH
from browserfleet.core.automations.tasks import MAX_PAGE
from browserfleet.core.automations.wire import run_settled, timestamp
from browserfleet.core.errors import BrowserfleetError, NotFound, RateLimited
from browserfleet.core.public_base import client_base
from browserfleet.fleet import Fleet
from browserfleet.store.records import ProjectRecord, TaskRunRecord

router = APIRouter(tags=["automations"])
PLAN_NAME = "browserfleet Automate"


class AutomationsError(BaseModel):
    """The Automations family's error body."""

    model_config = ConfigDict(extra="forbid")

    message: str
    details: SkipJsonSchema[None] | list[FieldError] = Field(
        default=None, description="400 only: one entry per offending field"
    )


@envelope(AutomationsError)
def automations_envelope(error: BrowserfleetError) -> JSONResponse:
    body: dict[str, Any] = {"message": error.message}
    if error.details:
        body["details"] = error.details
    headers = {"Retry-After": str(error.retry_after_s)} if isinstance(error, RateLimited) else {}
    return JSONResponse(body, status_code=error.status, headers=headers)


async def automation_project(key: KeyDep, fleet: FleetDep) -> ProjectRecord:
    """The caller's project (``Authorization: Bearer KEY``), counted against the key's rate limit."""
    project = await fleet.accounts.authenticate(key)
    await fleet.automation_limiter.hit(hash_key(key or ""))
    return project


Project = Annotated[ProjectRecord, Depends(automation_project)]
# what every route with a Project answers besides 401 (api/openapi.py adds that one)
LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "The key's request rate limit is reached (Retry-After)"},
}
TASK_NOT_FOUND: dict[int | str, dict[str, Any]] = {**LIMITED, 404: {"description": "No such task"}}
RUN_NOT_FOUND: dict[int | str, dict[str, Any]] = {**LIMITED, 404: {"description": "No such task or run"}}
Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="25 per page")]


def _runs_json(request: Request, fleet: Fleet, run: TaskRunRecord) -> dict[str, Any]:
    base = client_base(request)
    return run_object(run, lambda run_uid, name: fleet.automation_files.url(base, run_uid, name))


@router.get("/v2/auth", response_model=AuthResponse, responses=LIMITED)
async def auth(project: Project) -> AuthResponse:
    return AuthResponse(workspace=project.name)


@router.get("/v1/account", response_model=AccountResponse, responses=LIMITED)
async def account(project: Project, fleet: FleetDep) -> AccountResponse:
    usage = await fleet.runs.usage(project)
    return AccountResponse(
        created_at=timestamp(project.created_at),
        uid=project.id,
        plan_name=PLAN_NAME,
        api_usage=usage.api_usage,
        api_quota=usage.api_quota,
    )


@router.get("/v1/tasks", responses=LIMITED)
async def list_tasks(project: Project, fleet: FleetDep, page: Page = 1) -> list[dict[str, Any]]:
    return [task_object(t) for t in await fleet.tasks.list(project, page)]


@router.post("/v1/tasks", status_code=201, responses=LIMITED)
async def create_task(body: CreateTaskRequest, project: Project, fleet: FleetDep) -> dict[str, Any]:
    return task_object(await fleet.tasks.create(project, body.to_input()))


@router.get("/v1/tasks/{uid}", responses=TASK_NOT_FOUND)
async def get_task(uid: str, project: Project, fleet: FleetDep) -> dict[str, Any]:
    return task_object(await fleet.tasks.get(project, uid))


@router.patch("/v1/tasks/{uid}", responses=TASK_NOT_FOUND)
async def update_task(uid: str, body: UpdateTaskRequest, project: Project, fleet: FleetDep) -> dict[str, Any]:
    return task_object(await fleet.tasks.update(project, uid, body.to_input()))


@router.delete("/v1/tasks/{uid}", status_code=204, response_class=Response, responses=TASK_NOT_FOUND)
async def delete_task(uid: str, project: Project, fleet: FleetDep) -> Response:
    await fleet.tasks.delete(project, uid)
    return Response(status_code=204)


@router.post(
    "/v1/tasks/{task_uid}/runs",
    status_code=202,
    responses={
        **TASK_NOT_FOUND,
        402: {"description": "The monthly run quota is used up"},
        503: {"description": "Distributed mode: admission could not be decided in time"},
    },
)
async def create_run(
    task_uid: str, body: CreateRunRequest, request: Request, project: Project, fleet: FleetDep
) -> dict[str, Any]:
    run = await fleet.runs.create(project, task_uid, body.to_request())
    return _runs_json(request, fleet, run)


@router.get("/v1/tasks/{task_uid}/runs", responses=TASK_NOT_FOUND)
async def list_runs(
    task_uid: str, request: Request, project: Project, fleet: FleetDep, page: Page = 1
) -> list[dict[str, Any]]:
    return [_runs_json(request, fleet, r) for r in await fleet.runs.list(project, task_uid, page)]


@router.get("/v1/tasks/{task_uid}/runs/{uid}", responses=RUN_NOT_FOUND)
async def get_run(
    task_uid: str,
    uid: str,
    request: Request,
    project: Project,
    fleet: FleetDep,
    wait: Annotated[float, Query(ge=0, le=60, description="seconds to wait for the run to end")] = 0,
) -> dict[str, Any]:
    """``wait`` (a browserfleet extension) long-polls until the run is no longer running. A
    settled run's answer has an ``ETag`` and is served from memory (api/finished.py), within the
    key's rate limit still."""
    run = await (
        fleet.runs.wait(project, task_uid, uid, wait) if wait else fleet.runs.get(project, task_uid, uid)
    )
    settled, purged_at = run_settled(run)
    if settled:
        final(request, project, until=_same_answer_until(fleet, purged_at), gate=fleet.automation_limiter.hit)
    return _runs_json(request, fleet, run)


def _same_answer_until(fleet: Fleet, purged_at: datetime | None) -> datetime | None:
    """The end of the file URLs' signing window, or the files' purge if sooner."""
    window = fleet.automation_files.same_urls_until()
    ends = [t for t in (purged_at,) if t is not None]
    if window is not None:
        ends.append(datetime.fromtimestamp(window, UTC))
    return min(ends, default=None)


@router.get(
    FILES_PATH + "/{run_uid}/{name}",
    response_class=Response,
    responses={
        200: {
            "description": "The file, its content type guessed from its name",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        404: {"description": "No such file, a wrong or expired signature, or the run was deleted"},
    },
)
async def run_file(
    run_uid: str, name: str, fleet: FleetDep, sig: str = "", expires: int | None = None
) -> Response:
    """A file a run saved (or its video). The signature in the URL is the credential; it expires,
    and dies with the run (and its task)."""
    if not sig or not fleet.automation_files.verify(run_uid, name, sig, expires):
        raise NotFound("File not found")
    if await fleet.store.get_task_run(run_uid) is None:  # the run, or its task, was deleted
        raise NotFound("File not found")
    try:
        data = await fleet.blobs.get(run_uid, name)
    except ValueError as exc:  # an unsafe blob key (the signature matched, so not a client's doing)
        raise NotFound("File not found") from exc
    if data is None:
        raise NotFound("File not found")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})
