"""Browserbase-style agent runs on the browsing engine: ``POST /v1/agents/runs`` and
``GET /v1/agents/runs/{id}`` (the ``browserbase`` SDK's ``agents.runs.create`` / ``retrieve``).

A run is a browsing task (docs/browsing.md) shaped as Browserbase's run object: ``runId`` is the
task id; ``status`` PENDING (queued, assigned) → RUNNING → COMPLETED | FAILED | TIMED_OUT (the
task's timeout); ``result`` is the agent's answer — the JSON object it returned, else
``{"output": "<text>"}``; a failure's ``cause`` is ``{code, message}`` with the error code.
``agentId`` names a browsing template; ``resultSchema`` is given to the model as the shape of its
answer. ``pauseWhen``, ``variables`` and ``browserSettings`` are not supported (400). Errors use
the Sessions family's envelope ``{statusCode, error, message}``; another project's run is a 404.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from browserfleet.api.deps import FleetDep, ProjectDep
from browserfleet.api.finished import final
from browserfleet.core.browsing import BrowsingRequest, BrowsingTasks, TaskView
from browserfleet.core.errors import ErrorCode, InvalidRequest, NotFound
from browserfleet.store.records import ProjectRecord

router = APIRouter(prefix="/v1/agents", tags=["agents"])
CREATE_ANSWERS: dict[int | str, dict[str, Any]] = {
    402: {"description": "The balance does not cover one more run"},
    429: {"description": "The project's concurrent runs are at its limit"},
    503: {"description": "No model provider is configured (the message names the settings)"},
}
UNSUPPORTED = {"pause_when": "pauseWhen", "variables": "variables", "browser_settings": "browserSettings"}


class AgentRunRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    task: str = Field(min_length=1)
    agent_id: str | None = Field(default=None, alias="agentId")
    result_schema: dict[str, Any] | None = Field(default=None, alias="resultSchema")
    # read only to refuse them by name (400, UNSUPPORTED): not part of the documented request
    pause_when: SkipJsonSchema[str | None] = Field(default=None, alias="pauseWhen")
    variables: SkipJsonSchema[dict[str, Any] | None] = None
    browser_settings: SkipJsonSchema[dict[str, Any] | None] = Field(default=None, alias="browserSettings")

    def to_request(self) -> BrowsingRequest:
        for name, wire in UNSUPPORTED.items():
            if getattr(self, name):
                message = f"{wire} is not supported by this server"
                raise InvalidRequest(message, details=[{"field": wire, "message": message}])
        return BrowsingRequest(task=self.task, template=self.agent_id, result_schema=self.result_schema)


@router.post("/runs", responses=CREATE_ANSWERS)
async def create_run(body: AgentRunRequest, project: ProjectDep, fleet: FleetDep) -> dict[str, Any]:
    view = await fleet.browsing.create(project, body.to_request())
    return run_object(view)


@router.get("/runs/{run_id}", responses={404: {"description": "No such run (or another project's)"}})
async def get_run(run_id: str, request: Request, project: ProjectDep, fleet: FleetDep) -> dict[str, Any]:
    """A settled run's answer has an ``ETag`` and is served from memory (api/finished.py)."""
    view = await _view(fleet.browsing, project, run_id)
    if view.settled:
        final(request, project)
    return run_object(view)


async def _view(browsing: BrowsingTasks, project: ProjectRecord, run_id: str) -> TaskView:
    try:
        return await browsing.view(project, run_id)
    except NotFound as exc:  # ids are scoped to the project: another's run is a 404 too
        raise NotFound(f"Run {run_id} not found") from exc


def run_object(view: TaskView) -> dict[str, Any]:
    lead = view.attempts[0]
    outcome = view.outcome
    spec = lead.spec
    template = str((spec.get("template") or {}).get("name") or "default")
    body: dict[str, Any] = {
        "runId": view.task_id,
        "status": _status(view),
        "task": spec.get("task", ""),
        "createdAt": _iso(lead.created_at),
        "updatedAt": _iso(max(job.updated_at for job in view.attempts)),
        "startedAt": _iso(min((j.started_at for j in view.attempts if j.started_at), default=None)),
        "endedAt": _iso(outcome.finished_at) if outcome else None,
        "agentId": None if template == "default" else template,
        "resultSchema": spec.get("result_schema"),
        "result": None,
        "cause": None,
    }
    if view.status == "completed":
        body["result"] = _result(view.result.get("payload"))
    elif outcome is not None:
        body["cause"] = {
            "code": outcome.error_code or ErrorCode.INTERNAL_ERROR.value,
            "message": outcome.error_message,
        }
    return body


def _status(view: TaskView) -> str:
    match view.status:
        case "queued" | "assigned":
            return "PENDING"
        case "running":
            return "RUNNING"
        case "completed":
            return "COMPLETED"
    outcome = view.outcome
    return (
        "TIMED_OUT"
        if outcome is not None and outcome.error_code == ErrorCode.TASK_TIMEOUT.value
        else "FAILED"
    )


def _result(payload: Any) -> dict[str, Any]:
    if isinstance(payload, str):
        try:
            parsed = json.loads(payload)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return {"output": payload}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
