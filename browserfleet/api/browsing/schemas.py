"""Wire schemas of the browsing family (shared/compat/browsing.md): the create body, and the
status object built from a :class:`TaskView`. Field names on the wire are the contract's
(snake_case)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from browserfleet.core.browsing import BrowsingRequest, Screenshots, TaskView
from browserfleet.core.browsing.spec import MAX_FANOUT, MAX_TIMEOUT_S

MAX_TIMEOUT_MS = int(MAX_TIMEOUT_S * 1000)


def _one_of(first: str, second: str) -> dict[str, Any]:
    """JSON Schema for "``first`` and ``second`` are not both given" (either may be null)."""
    return {"anyOf": [{"properties": {name: {"type": "null"}}} for name in (first, second)]}


class Filter(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra=_one_of("country_iso", "node_uid"))
    country_iso: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$", description="ISO-2 country")
    node_uid: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_selector(self) -> Filter:
        if self.country_iso is not None and self.node_uid is not None:
            raise ValueError("country_iso and node_uid are mutually exclusive: give only one")
        return self


class BrowsingTaskRequest(BaseModel):
    """``POST /api/v1/browsing/async`` and ``/sync``."""

    # a session runs on one node: no session_key with fanout > 1 (core/browsing/routing.py)
    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        json_schema_extra={
            "anyOf": [
                {"properties": {"session_key": {"type": "null"}}},
                {"properties": {"fanout": {"maximum": 1}}},
            ]
        },
    )
    task: str = Field(min_length=1, description="the instruction to carry out in the browser")
    screenshots: Screenshots | None = None
    session_key: str | None = Field(default=None, min_length=1, max_length=200)
    filter_: Filter | None = Field(default=None, alias="filter")
    timeout: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_MS, description="milliseconds")
    fanout: int = Field(default=1, ge=1, le=MAX_FANOUT)
    template: str | None = Field(default=None, min_length=1)

    def to_request(self) -> BrowsingRequest:
        return BrowsingRequest(
            task=self.task,
            screenshots=self.screenshots,
            session_key=self.session_key,
            country_iso=self.filter_.country_iso.upper()
            if self.filter_ and self.filter_.country_iso
            else None,
            node_uid=self.filter_.node_uid if self.filter_ else None,
            timeout_s=self.timeout / 1000 if self.timeout else None,
            fanout=self.fanout,
            template=self.template,
        )


class CreateTaskResponse(BaseModel):
    task_id: str


def status_body(view: TaskView) -> dict[str, Any]:
    """``{task_id, status}``; once finished also ``success, payload, info, error,
    execution_time_ms``."""
    body: dict[str, Any] = {"task_id": view.task_id, "status": view.status}
    outcome = view.outcome
    if outcome is None:
        return body
    result = view.result
    elapsed = None
    if outcome.started_at and outcome.finished_at:
        elapsed = round((outcome.finished_at - outcome.started_at).total_seconds() * 1000)
    body.update(
        success=view.status == "completed" and bool(result.get("success", True)),
        payload=result.get("payload"),
        info=_info(view, result),
        error=None if view.status == "completed" else outcome.error_message,
        execution_time_ms=elapsed,
    )
    return body


def _info(view: TaskView, result: dict[str, Any]) -> dict[str, Any]:
    outcome = view.outcome
    assert outcome is not None
    return {
        "node_id": outcome.node_id,
        "error_code": outcome.error_code,
        "steps": result.get("steps", []),
        "screenshots": result.get("screenshots", []),
        "final_url": result.get("final_url"),
        "model": result.get("model"),
        "template": result.get("template"),
        "usage": result.get("usage"),
        "timings": {
            **(result.get("timings") or {}),
            "created_at": _iso(outcome.created_at),
            "started_at": _iso(outcome.started_at),
            "finished_at": _iso(outcome.finished_at),
        },
        "attempts": [
            {
                "task_attempt": n,
                "node_id": job.node_id,
                "status": job.state.value,
                "error_code": job.error_code,
            }
            for n, job in enumerate(view.attempts)
        ],
    }


def _iso(moment: Any) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
