"""Request bodies of the Automations family (Browserbear-style). Field names are the contract's
(snake_case). Steps stay plain objects here: core/automations/steps.py validates them so its
errors can name the step (position and uid) and the field."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from browserfleet.api.automations.steps import OverridesDoc, StepsDoc
from browserfleet.core.actions import WebUrl
from browserfleet.core.automations import RunRequest, TaskInput

NOT_BLANK = r"\S"  # a name holds more than whitespace
Viewport = Field(default=None, ge=100, le=4096)
Steps = Annotated[list[dict[str, Any]], StepsDoc]  # checked by core/automations/steps.py


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateTaskRequest(_Body):
    """``POST /v1/tasks`` (a browserfleet addition: Browserbear makes tasks in its dashboard)."""

    name: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)
    viewport_width: int | None = Viewport
    viewport_height: int | None = Viewport
    steps: Steps = Field(default_factory=list)

    def to_input(self) -> TaskInput:
        return TaskInput(self.name, self.viewport_width, self.viewport_height, self.steps)


class UpdateTaskRequest(_Body):
    """``PATCH /v1/tasks/{uid}``: the fields given replace the task's (``steps`` as a whole)."""

    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=NOT_BLANK)
    viewport_width: int | None = Viewport
    viewport_height: int | None = Viewport
    steps: Steps | None = None

    def to_input(self) -> TaskInput:
        return TaskInput(self.name, self.viewport_width, self.viewport_height, self.steps)


class CreateRunRequest(_Body):
    """``POST /v1/tasks/{task_uid}/runs``: per-run step overrides ``[{uid, action?, config?,
    skip?}]``, a ``webhook_url`` to POST the finished run to, and free ``metadata``."""

    steps: Annotated[list[dict[str, Any]], OverridesDoc] = Field(default_factory=list)
    webhook_url: WebUrl | None = Field(default=None, max_length=2000)
    metadata: Any = None

    def to_request(self) -> RunRequest:
        return RunRequest(overrides=self.steps, webhook_url=self.webhook_url, metadata=self.metadata)


class AuthResponse(BaseModel):
    message: str = "Authorized"
    workspace: str


class AccountResponse(BaseModel):
    created_at: str
    uid: str
    plan_name: str
    api_usage: int
    api_quota: int
