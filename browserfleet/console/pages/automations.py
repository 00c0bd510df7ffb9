"""Automations: the tasks, the step editor (its actions and fields are the API's own step
schemas, and a save goes through the API's own validation), run now with overrides, a run's page
(outputs, screenshots, video, webhook attempts), and the task's feeds."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from browserfleet.api.automations.routes import create_run, create_task, update_task
from browserfleet.api.automations.schemas import CreateRunRequest, CreateTaskRequest, UpdateTaskRequest
from browserfleet.console.forms import validated
from browserfleet.console.web import PREFIX, FleetDep, FormDep, JsonCsrfDep, ProjectDep, render
from browserfleet.core.automations import run_object
from browserfleet.core.automations.step_configs import CONFIGS, LLM_ACTIONS
from browserfleet.core.automations.steps import validate_steps
from browserfleet.core.automations.tasks import PAGE_SIZE
from browserfleet.core.errors import BrowserfleetError, InvalidRequest
from browserfleet.core.public_base import client_base
from browserfleet.store.records import ProjectRecord, TaskRecord, TaskRunRecord

router = APIRouter(prefix="/tasks")
# the editor's actions and each one's fields: the schemas the API validates a step's config with
STEP_SCHEMAS = {
    action: config.model_json_schema(by_alias=True)
    for action, config in CONFIGS.items()
    if action not in LLM_ACTIONS
}


@router.get("")
async def task_list(
    request: Request, project: ProjectDep, fleet: FleetDep, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> HTMLResponse:
    tasks = await fleet.tasks.list(project, page)
    return render(
        request,
        "automations/list.html",
        tasks=tasks,
        page=page,
        more=len(tasks) == PAGE_SIZE,
        feeds=await fleet.feeds.list(project),
    )


@router.get("/new")
async def task_new(request: Request, project: ProjectDep) -> HTMLResponse:
    return _editor(request, None, {"name": "", "viewport_width": 1024, "viewport_height": 768, "steps": []})


def _editor(request: Request, task: TaskRecord | None, values: dict[str, Any], **extra: Any) -> HTMLResponse:
    status = int(extra.pop("status", 200))
    return render(
        request,
        "automations/editor.html",
        status=status,
        task=task,
        values=values,
        schemas=STEP_SCHEMAS,
        **extra,
    )


def _task_body(form: FormData) -> dict[str, Any]:
    """The task as the editor posts it: name, viewport and the steps (JSON from the editor)."""
    raw = form.get("steps")
    try:
        steps = json.loads(raw) if isinstance(raw, str) and raw.strip() else []
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"steps: not valid JSON ({exc.msg})") from exc
    body: dict[str, Any] = {"name": str(form.get("name") or ""), "steps": steps}
    for field in ("viewport_width", "viewport_height"):
        text = str(form.get(field) or "").strip()
        if text:
            body[field] = int(text) if text.isdigit() else text
    return body


@router.post("", response_model=None)
async def task_create(request: Request, project: ProjectDep, fleet: FleetDep, form: FormDep) -> Response:
    body: dict[str, Any] = {}
    try:
        body = _task_body(form)
        created = await create_task(validated(CreateTaskRequest, body), project, fleet)  # the API's route
    except InvalidRequest as exc:
        return _editor(request, None, body or {"name": "", "steps": []}, status=400, error=exc)
    return RedirectResponse(f"{PREFIX}/tasks/{created['uid']}", status_code=303)


@router.post("/validate")
async def task_validate(request: Request, project: ProjectDep, _csrf: JsonCsrfDep) -> JSONResponse:
    """The editor's check as it goes: the API's own step validation, its message when it refuses."""
    try:
        steps = await request.json()
        validate_steps(steps if isinstance(steps, list) else [])
    except InvalidRequest as exc:
        return JSONResponse({"ok": False, "message": exc.message})
    except ValueError:
        return JSONResponse({"ok": False, "message": "steps: not valid JSON"})
    return JSONResponse({"ok": True})


@router.get("/{uid}")
async def task_page(
    request: Request,
    uid: str,
    project: ProjectDep,
    fleet: FleetDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    task = await fleet.tasks.get(project, uid)
    return await _task_page(request, project, fleet, task, page)


async def _task_page(
    request: Request, project: ProjectRecord, fleet: FleetDep, task: TaskRecord, page: int = 1, **extra: Any
) -> HTMLResponse:
    runs = await fleet.runs.list(project, task.id, page)
    feeds = [f for f in await fleet.feeds.list(project) if f.task_id == task.id]
    values = {
        "name": task.name,
        "viewport_width": task.viewport_width,
        "viewport_height": task.viewport_height,
        "steps": task.steps,
    }
    values.update(extra.pop("values", {}))
    return _editor(
        request, task, values, runs=runs, page=page, more=len(runs) == PAGE_SIZE, feeds=feeds, **extra
    )


@router.post("/{uid}", response_model=None)
async def task_update(
    request: Request, uid: str, project: ProjectDep, fleet: FleetDep, form: FormDep
) -> Response:
    task = await fleet.tasks.get(project, uid)
    body: dict[str, Any] = {}
    try:
        body = _task_body(form)
        await update_task(uid, validated(UpdateTaskRequest, body), project, fleet)  # the API's route
    except InvalidRequest as exc:
        return await _task_page(request, project, fleet, task, values=body, status=400, error=exc)
    return RedirectResponse(f"{PREFIX}/tasks/{uid}", status_code=303)


@router.post("/{uid}/delete")
async def task_delete(uid: str, project: ProjectDep, fleet: FleetDep, form: FormDep) -> RedirectResponse:
    await fleet.tasks.delete(project, uid)
    return RedirectResponse(f"{PREFIX}/tasks", status_code=303)


@router.post("/{uid}/runs", response_model=None)
async def run_now(
    request: Request, uid: str, project: ProjectDep, fleet: FleetDep, form: FormDep
) -> Response:
    task = await fleet.tasks.get(project, uid)
    overrides = str(form.get("overrides") or "").strip()
    try:
        steps = json.loads(overrides) if overrides else []
        body = validated(CreateRunRequest, {"steps": steps, **_optional(form, "webhook_url")})
        run = await create_run(uid, body, request, project, fleet)  # the API's route
    except json.JSONDecodeError:
        error = InvalidRequest("overrides: not valid JSON")
        return await _task_page(
            request, project, fleet, task, status=400, run_error=error, overrides=overrides
        )
    except BrowserfleetError as exc:
        return await _task_page(
            request, project, fleet, task, status=exc.status, run_error=exc, overrides=overrides
        )
    return RedirectResponse(f"{PREFIX}/tasks/{uid}/runs/{run['uid']}", status_code=303)


def _optional(form: FormData, name: str) -> dict[str, str]:
    value = str(form.get(name) or "").strip()
    return {name: value} if value else {}


@router.get("/{uid}/runs/{run_uid}")
async def run_page(
    request: Request, uid: str, run_uid: str, project: ProjectDep, fleet: FleetDep
) -> HTMLResponse:
    run = await fleet.runs.get(project, uid, run_uid)
    return render(request, "automations/run.html", run=run, wire=_wire(request, fleet, run))


@router.get("/{uid}/runs/{run_uid}/state")
async def run_state(uid: str, run_uid: str, project: ProjectDep, fleet: FleetDep) -> JSONResponse:
    run = await fleet.runs.get(project, uid, run_uid)
    return JSONResponse({"state": run.job.state.value})


def _wire(request: Request, fleet: FleetDep, run: TaskRunRecord) -> dict[str, Any]:
    """The run as the API shows it: outputs with their (signed) file URLs, the video's."""
    base = client_base(request)
    return run_object(run, lambda run_uid, name: fleet.automation_files.url(base, run_uid, name))
