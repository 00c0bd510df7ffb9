"""Feeds of the Automations family: named JSON views over a task's run outputs (core/automations/feeds.py).

``GET /v1/feeds`` lists the project's feeds (Browserbear's feed object plus what the feed does);
``GET /v1/tasks/{task_uid}/feeds/{uid}`` computes the data. Creating (``POST``) and deleting are
browserfleet additions (Browserbear makes feeds in its dashboard). Errors use the family's
envelope ``{"message": ..., "details"?: [...]}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from browserfleet.api.automations.routes import LIMITED, TASK_NOT_FOUND, Project
from browserfleet.api.deps import FleetDep
from browserfleet.core.automations.feeds import MAX_FIELDS, FeedInput
from browserfleet.core.automations.wire import timestamp
from browserfleet.core.public_base import client_base
from browserfleet.fleet import Fleet
from browserfleet.store.records import FeedRecord

router = APIRouter(tags=["automations"])
FEED_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **LIMITED,
    404: {"description": "No such feed of this task"},
}


class FeedField(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from", min_length=1, max_length=500)
    to: str = Field(min_length=1, max_length=200)


class CreateFeedRequest(BaseModel):
    """``POST /v1/tasks/{task_uid}/feeds``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    source: Literal["latest", "all"] = "latest"
    fields: list[FeedField] | None = Field(default=None, max_length=MAX_FIELDS)
    flatten: str | None = Field(default=None, min_length=1, max_length=200)

    def to_input(self) -> FeedInput:
        fields = [{"from": f.source, "to": f.to} for f in self.fields] if self.fields is not None else None
        return FeedInput(self.name, self.source, fields, self.flatten, self.description)


def _base(request: Request, fleet: Fleet) -> str:
    return client_base(request)


def _feed_object(base: str, feed: FeedRecord, last_run_at: datetime | None) -> dict[str, Any]:
    return {
        "uid": feed.id,
        "name": feed.name,
        "description": feed.description,
        "task": feed.task_id,
        "source": feed.source,
        "fields": feed.fields,
        "flatten": feed.flatten,
        "created_at": timestamp(feed.created_at),
        "last_run_at": timestamp(last_run_at) if last_run_at else None,
        "url": f"{base}/v1/tasks/{feed.task_id}/feeds/{feed.id}",
    }


@router.get("/v1/feeds", responses=LIMITED)
async def list_feeds(request: Request, project: Project, fleet: FleetDep) -> list[dict[str, Any]]:
    feeds = await fleet.feeds.list(project)
    last = await fleet.feeds.last_run_at(feeds)
    return [_feed_object(_base(request, fleet), f, last.get(f.task_id)) for f in feeds]


@router.post("/v1/tasks/{task_uid}/feeds", status_code=201, responses=TASK_NOT_FOUND)
async def create_feed(
    task_uid: str, body: CreateFeedRequest, request: Request, project: Project, fleet: FleetDep
) -> dict[str, Any]:
    feed = await fleet.feeds.create(project, task_uid, body.to_input())
    last = await fleet.feeds.last_run_at([feed])
    return _feed_object(_base(request, fleet), feed, last.get(feed.task_id))


@router.get("/v1/tasks/{task_uid}/feeds", responses=TASK_NOT_FOUND)
async def list_task_feeds(
    task_uid: str, request: Request, project: Project, fleet: FleetDep
) -> list[dict[str, Any]]:
    task = await fleet.tasks.get(project, task_uid)
    feeds = [f for f in await fleet.feeds.list(project) if f.task_id == task.id]
    last = await fleet.feeds.last_run_at(feeds)
    return [_feed_object(_base(request, fleet), f, last.get(f.task_id)) for f in feeds]


@router.get("/v1/tasks/{task_uid}/feeds/{uid}", responses=FEED_NOT_FOUND)
async def get_feed(
    task_uid: str, uid: str, request: Request, project: Project, fleet: FleetDep
) -> dict[str, Any]:
    """``{uid, name, description, task, source, last_run_at, data: [...]}``, computed now."""
    feed = await fleet.feeds.get(project, task_uid, uid)
    base = _base(request, fleet)
    data = await fleet.feeds.data(feed, lambda run_uid, name: fleet.automation_files.url(base, run_uid, name))
    return {
        "uid": feed.id,
        "name": feed.name,
        "description": feed.description,
        "task": feed.task_id,
        "source": feed.source,
        "last_run_at": timestamp(data.last_run_at) if data.last_run_at else None,
        "data": data.records,
    }


@router.delete(
    "/v1/tasks/{task_uid}/feeds/{uid}", status_code=204, response_class=Response, responses=FEED_NOT_FOUND
)
async def delete_feed(task_uid: str, uid: str, project: Project, fleet: FleetDep) -> Response:
    await fleet.feeds.delete(project, task_uid, uid)
    return Response(status_code=204)
