"""Routes of the browsing family (shared/compat/browsing.md). Thin: validate, authenticate, call
core/browsing, shape the reply. Errors are ``{"error": "<message>"}`` (a sync wait that ran out
also names the ``task_id``); every response carries ``X-Request-ID`` (request_id.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from browserfleet.api.browsing.schemas import BrowsingTaskRequest, CreateTaskResponse, status_body
from browserfleet.api.deps import FleetDep, ProjectDep
from browserfleet.api.errors import envelope
from browserfleet.api.finished import final
from browserfleet.core.errors import BrowserfleetError

PREFIX = "/api/v1/browsing"
router = APIRouter(prefix=PREFIX, tags=["browsing"])
CREATE_ANSWERS: dict[int | str, dict[str, Any]] = {
    402: {"description": "The balance does not cover one more task"},
    429: {"description": "The project's concurrent tasks are at its limit"},
    503: {"description": "No model provider is configured (the message names the settings)"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such task (or another project's)"}}


class SyncWaitTimeout(BrowserfleetError):
    """The sync wait ran out; the task keeps running and stays queryable by ``task_id``."""

    status = 504
    kind = "Gateway Timeout"

    def __init__(self, message: str, task_id: str) -> None:
        super().__init__(message)
        self.task_id = task_id


class BrowsingError(BaseModel):
    """The browsing family's error body."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="what went wrong")
    task_id: str | SkipJsonSchema[None] = Field(
        default=None, description="504 of /sync only: the task, still running, to poll"
    )


@envelope(BrowsingError)
def browsing_envelope(error: BrowserfleetError) -> JSONResponse:
    body: dict[str, Any] = {"error": error.message}
    if isinstance(error, SyncWaitTimeout):
        body["task_id"] = error.task_id
    return JSONResponse(body, status_code=error.status)


@router.post("/async", response_model=CreateTaskResponse, responses=CREATE_ANSWERS)
async def create_async(body: BrowsingTaskRequest, project: ProjectDep, fleet: FleetDep) -> CreateTaskResponse:
    view = await fleet.browsing.create(project, body.to_request())
    return CreateTaskResponse(task_id=view.task_id)


@router.post(
    "/sync",
    responses={
        **CREATE_ANSWERS,
        504: {"description": "The task did not finish within browsing_sync_wait_s: poll task_id"},
    },
)
async def create_sync(body: BrowsingTaskRequest, project: ProjectDep, fleet: FleetDep) -> dict[str, Any]:
    """Wait up to ``browsing_sync_wait_s`` for the task; 504 after (the task continues)."""
    view = await fleet.browsing.create(project, body.to_request())
    wait_s = fleet.browsing.policy.sync_wait_s
    view = await fleet.browsing.wait(project, view.task_id, wait_s)
    if not view.finished:
        message = f"The task did not finish within {wait_s:g} s; it keeps running: poll its status"
        raise SyncWaitTimeout(message, view.task_id)
    return status_body(view)


@router.get("/status", responses=NOT_FOUND)
async def status(
    request: Request, project: ProjectDep, fleet: FleetDep, task_id: Annotated[str, Query(min_length=1)]
) -> dict[str, Any]:
    """A settled task's answer has an ``ETag`` and is served from memory (api/finished.py)."""
    view = await fleet.browsing.view(project, task_id)
    if view.settled:
        final(request, project)
    return status_body(view)


@router.get(
    "/screenshots/{task_id}/{file}",
    response_class=Response,
    responses={
        200: {
            "description": "The PNG",
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        },
        404: {"description": "No such task or file, or cleaned up (browsing_screenshot_days)"},
    },
)
async def screenshot(task_id: str, file: str, project: ProjectDep, fleet: FleetDep) -> Response:
    """PNG bytes; 404 for an unknown file and after cleanup (kept ``browsing_screenshot_days``)."""
    data = await fleet.browsing.screenshot(project, task_id, file)
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
