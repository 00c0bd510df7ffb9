"""The Automations family's objects as they go on the wire: the task object and the run object.

:func:`run_object` is the one serializer of a run: the API answers with it and a webhook delivery
posts it (pass the server's public base URL so the file URLs resolve for the receiver).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from browserfleet.core.jobs import JobState
from browserfleet.store.records import TaskRecord, TaskRunRecord

BLOB_MARK = "$blob"  # in a run's stored outputs, {"$blob": name} is a file stored under the run
FileUrl = Callable[[str, str], str]  # (run uid, blob name) -> URL

RUN_STATUS = {
    JobState.QUEUED: "running",
    JobState.ASSIGNED: "running",
    JobState.RUNNING: "running",
    JobState.COMPLETED: "finished",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled",
}


SETTLED_WEBHOOK = frozenset({"delivered", "failed", "refused"})  # core/automations/webhooks.py's ends


def run_settled(run: TaskRunRecord) -> tuple[bool, datetime | None]:
    """Whether the run object no longer changes — the run has ended and so has its webhook
    delivery — and until when: its files' purge (they show as null then), if they have one."""
    job = run.job
    done = job.state.terminal and (run.webhook_url is None or run.webhook_state in SETTLED_WEBHOOK)
    if not done or job.finished_at is None or job.keep_blobs_days is None:
        return done, None
    return True, job.finished_at + timedelta(days=job.keep_blobs_days)


def timestamp(moment: datetime) -> str:
    """Browserbear's form: ``2022-12-06T04:34:15.238Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def task_object(task: TaskRecord) -> dict[str, Any]:
    return {
        "uid": task.id,
        "name": task.name,
        "created_at": timestamp(task.created_at),
        "updated_at": timestamp(task.updated_at),
        "viewport_width": task.viewport_width,
        "viewport_height": task.viewport_height,
        "steps": task.steps,
    }


def run_object(run: TaskRunRecord, file_url: FileUrl) -> dict[str, Any]:
    """The run object: ``uid, task, created_at, status, steps (each with its output), outputs,
    video_url, finished_in_seconds, webhook_url, metadata, error``."""
    job = run.job
    result = job.result or {}
    purged = job.blobs_purged

    def files(value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {BLOB_MARK}:
            return None if purged else file_url(job.id, value[BLOB_MARK])
        if isinstance(value, list):
            return [files(v) for v in value]
        return value

    outputs = {key: files(value) for key, value in (result.get("outputs") or {}).items()}
    video = result.get("video")
    return {
        "uid": job.id,
        "task": run.task_id,
        "created_at": timestamp(run.created_at),
        "status": RUN_STATUS[job.state],
        "steps": [_step(step, outputs) for step in job.spec.get("steps", [])],
        "outputs": outputs,
        "video_url": None if video is None or purged else file_url(job.id, video),
        "finished_in_seconds": _seconds(run),
        "webhook_url": run.webhook_url,
        "metadata": run.metadata,
        "error": _error(run),
        # the webhook delivery (core/automations/webhooks.py): null/[] until queued
        "webhook_status": run.webhook_state,
        "webhook_attempts": list(run.webhook_attempts),
    }


def _step(step: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    key = f"{step['uid']}_{step['action']}"
    return {**step, "output": outputs[key]} if key in outputs else dict(step)


def _seconds(run: TaskRunRecord) -> int | None:
    """Whole seconds from creation to the end, as Browserbear writes them (``6``); None while running."""
    job = run.job
    if job.finished_at is None:
        return None
    return round((job.finished_at - run.created_at).total_seconds())


def _error(run: TaskRunRecord) -> dict[str, Any] | None:
    job = run.job
    if job.state is not JobState.FAILED and job.state is not JobState.CANCELLED:
        return None
    step = (job.result or {}).get("failed_step")
    return {"code": job.error_code, "message": job.error_message, "step": step}
