"""What a browsing task asks, in core terms: the validated request, and the job spec a node reads.

A task is one job of kind ``agent`` — or, with ``fanout: N``, N jobs (*attempts*) that race on N
distinct nodes. The first attempt's id is the task id; every attempt's spec names the task and
its siblings, and their routes carry ``fanout`` (core/fanout.py settles the race).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from browserfleet.core.browsing.templates import Screenshots, Template

MAX_TIMEOUT_S = 10_800.0  # 3 h, the contract's limit
MAX_FANOUT = 10
GUARD_S = 30.0  # the node's outer timeout over the task's own (the agent ends itself first)


class BrowsingRequest(BaseModel):
    """A validated create request (the API translates the wire body into this)."""

    model_config = ConfigDict(frozen=True)
    task: str = Field(min_length=1)
    screenshots: Screenshots | None = None
    session_key: str | None = None
    country_iso: str | None = None
    node_uid: str | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S)
    fanout: int = Field(default=1, ge=1, le=MAX_FANOUT)
    template: str | None = None
    result_schema: dict[str, Any] | None = None  # agent runs: the JSON Schema of ``done``'s result


class AgentSpec(BaseModel):
    """A browsing attempt's job ``spec`` (core writes it, the node's agent executor reads it)."""

    model_config = ConfigDict(frozen=True)
    task_id: str
    attempt: int = 0
    attempt_ids: list[str]
    task: str
    template: Template
    screenshots: Screenshots | None = None
    session_key: str | None = None
    result_schema: dict[str, Any] | None = None
    task_timeout_s: float
    timeout_s: float  # the node's outer guard: task_timeout_s + GUARD_S

    @property
    def screenshot_policy(self) -> Screenshots | None:
        return self.screenshots or self.template.screenshots
