"""Projects and usage (browserbase-compatible): ``GET /v1/projects``, ``/v1/projects/{id}``,
``/v1/projects/{id}/usage``.

An API key belongs to exactly one project, so the list has one element and any other project id
is a 404 (the Sessions family's envelope). browserfleet has no separate owners: ``ownerId`` is the
project's own id; projects are not edited after creation, so ``updatedAt`` is ``createdAt``.

Usage is computed from the project's finished jobs of the Sessions family — sessions and fetches —
from what their executors record in the job result: ``browserMinutes`` is the total browser time of
finished sessions, rounded up to whole minutes (fetches use no browser); ``proxyBytes`` is the
bytes that went through the egress proxy for sessions and fetches. Renders are not counted: they
are a separate product charged per render (their bytes are in each render's ``bandwidthMetrics``).
Sessions still running are counted once they end.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from browserfleet.api.deps import FleetDep, ProjectDep
from browserfleet.core.errors import NotFound
from browserfleet.core.jobs import JobKind
from browserfleet.core.sessions import MAX_TIMEOUT_S
from browserfleet.store.records import ProjectRecord

router = APIRouter(prefix="/v1", tags=["sessions"])
USAGE_KINDS = (JobKind.SESSION, JobKind.FETCH)
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not the key's project"}}


class ProjectModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    name: str = Field(min_length=1)
    owner_id: str = Field(alias="ownerId")
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    default_timeout: int = Field(alias="defaultTimeout", ge=60, le=MAX_TIMEOUT_S)
    concurrency: int = Field(ge=1)


class ProjectUsage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    browser_minutes: int = Field(alias="browserMinutes", ge=0)
    proxy_bytes: int = Field(alias="proxyBytes", ge=0)


def _model(project: ProjectRecord) -> ProjectModel:
    return ProjectModel(
        id=project.id,
        name=project.name,
        owner_id=project.id,
        created_at=project.created_at,
        updated_at=project.created_at,
        default_timeout=max(60, min(MAX_TIMEOUT_S, int(project.default_timeout_s))),
        concurrency=max(1, project.concurrency_limit),
    )


def _own(project: ProjectRecord, project_id: str) -> ProjectRecord:
    if project_id != project.id:
        raise NotFound(f"Project {project_id} not found")
    return project


@router.get("/projects", response_model=list[ProjectModel], response_model_by_alias=True)
async def list_projects(project: ProjectDep) -> list[ProjectModel]:
    return [_model(project)]


@router.get(
    "/projects/{project_id}", response_model=ProjectModel, response_model_by_alias=True, responses=NOT_FOUND
)
async def get_project(project_id: str, project: ProjectDep) -> ProjectModel:
    return _model(_own(project, project_id))


@router.get(
    "/projects/{project_id}/usage",
    response_model=ProjectUsage,
    response_model_by_alias=True,
    responses=NOT_FOUND,
)
async def project_usage(project_id: str, project: ProjectDep, fleet: FleetDep) -> ProjectUsage:
    minutes, proxy_bytes = await fleet.store.usage_totals(_own(project, project_id).id, USAGE_KINDS)
    return ProjectUsage(browser_minutes=math.ceil(round(minutes, 6)), proxy_bytes=proxy_bytes)
