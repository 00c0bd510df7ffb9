"""Tasks: saved lists of steps, per project. Every write validates the steps (core/automations/steps.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from browserfleet.core.automations.steps import new_uid, validate_steps
from browserfleet.core.errors import InvalidRequest, NotFound
from browserfleet.core.jobs import utcnow
from browserfleet.store.records import ProjectRecord, TaskRecord
from browserfleet.store.repo import Store

PAGE_SIZE = 25  # the contract's page size for tasks and runs
# the last page whose rows (offset and offset + PAGE_SIZE) a database's 64-bit OFFSET/LIMIT can hold
MAX_PAGE = (2**63 - 1) // PAGE_SIZE
DEFAULT_VIEWPORT = (1024, 768)
MAX_STEPS = 200


@dataclass(frozen=True)
class TaskInput:
    """A create (every field) or a PATCH (None: unchanged)."""

    name: str | None = None
    viewport_width: int | None = None
    viewport_height: int | None = None
    steps: list[dict[str, Any]] | None = None


def page_offset(page: int) -> int:
    """The offset of ``page`` (1-based); 400 for a page below 1 or past :data:`MAX_PAGE`."""
    if not 1 <= page <= MAX_PAGE:
        message = f"must be between 1 and {MAX_PAGE}"
        raise InvalidRequest(f"page {message}", details=[{"field": "page", "message": message}])
    return (page - 1) * PAGE_SIZE


class Tasks:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def create(self, project: ProjectRecord, data: TaskInput) -> TaskRecord:
        if not data.name or not data.name.strip():
            raise InvalidRequest(
                "name: must not be empty", details=[{"field": "name", "message": "required"}]
            )
        now = utcnow()
        task = TaskRecord(
            id=new_uid(),
            project_id=project.id,
            name=data.name,
            viewport_width=data.viewport_width or DEFAULT_VIEWPORT[0],
            viewport_height=data.viewport_height or DEFAULT_VIEWPORT[1],
            steps=_steps(data.steps or []),
            created_at=now,
            updated_at=now,
        )
        return await self.store.create_task(task)

    async def get(self, project: ProjectRecord, uid: str) -> TaskRecord:
        task = await self.store.get_task(uid, project.id)
        if task is None:
            raise NotFound("Task not found")
        return task

    async def list(self, project: ProjectRecord, page: int) -> list[TaskRecord]:
        return await self.store.project_tasks(project.id, offset=page_offset(page), limit=PAGE_SIZE)

    async def update(self, project: ProjectRecord, uid: str, data: TaskInput) -> TaskRecord:
        fields: dict[str, Any] = {}
        if data.name is not None:
            if not data.name.strip():
                raise InvalidRequest(
                    "name: must not be empty", details=[{"field": "name", "message": "empty"}]
                )
            fields["name"] = data.name
        if data.viewport_width is not None:
            fields["viewport_width"] = data.viewport_width
        if data.viewport_height is not None:
            fields["viewport_height"] = data.viewport_height
        if data.steps is not None:
            fields["steps"] = _steps(data.steps)
        task = await self.store.update_task(uid, project.id, **fields)
        if task is None:
            raise NotFound("Task not found")
        return task

    async def delete(self, project: ProjectRecord, uid: str) -> None:
        if not await self.store.delete_task(uid, project.id):
            raise NotFound("Task not found")


def _steps(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if len(raw) > MAX_STEPS:
        raise InvalidRequest(
            f"steps: at most {MAX_STEPS} steps", details=[{"field": "steps", "message": "too many"}]
        )
    return validate_steps(raw)
