"""Automations: tasks, their runs (a ``steps`` job plus a task_runs row), webhook deliveries of
runs, and feeds over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from browserfleet.core.jobs import JobKind, JobState, Route, utcnow
from browserfleet.store.models import (
    FeedRow,
    JobRow,
    TaskRow,
    TaskRunRow,
    WebhookDeliveryRow,
)
from browserfleet.store.records import (
    FeedRecord,
    TaskRecord,
    TaskRunRecord,
    WebhookDeliveryRecord,
)
from browserfleet.store.repo.base import StoreBase, _job, _utc

# a run: its task_runs row, its job and its webhook delivery (outer join: None before one exists)
_RUNS = (
    select(TaskRunRow, JobRow, WebhookDeliveryRow)
    .join(JobRow, JobRow.id == TaskRunRow.job_id)
    .outerjoin(WebhookDeliveryRow, WebhookDeliveryRow.run_id == TaskRunRow.job_id)
)
_TERMINAL = (JobState.COMPLETED.value, JobState.FAILED.value, JobState.CANCELLED.value)


class AutomationQueries(StoreBase):
    async def create_task(self, task: TaskRecord) -> TaskRecord:
        row = TaskRow(**vars(task))
        async with self._write() as session:
            session.add(row)
        return _task(row)

    async def get_task(self, task_id: str, project_id: str) -> TaskRecord | None:
        """The task, or None if unknown or another project's."""
        async with self._read() as session:
            row = await session.get(TaskRow, task_id)
        return _task(row) if row is not None and row.project_id == project_id else None

    async def project_tasks(self, project_id: str, *, offset: int, limit: int) -> list[TaskRecord]:
        """A project's tasks, newest first."""
        query = (
            select(TaskRow)
            .where(TaskRow.project_id == project_id)
            .order_by(TaskRow.created_at.desc(), TaskRow.id)
            .offset(offset)
            .limit(limit)
        )
        async with self._read() as session:
            return [_task(r) for r in await session.scalars(query)]

    async def update_task(self, task_id: str, project_id: str, **fields: Any) -> TaskRecord | None:
        async with self._write() as session:
            row = await session.get(TaskRow, task_id)
            if row is None or row.project_id != project_id:
                return None
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
        return _task(row)

    async def delete_task(self, task_id: str, project_id: str) -> bool:
        """Delete a task and its runs' rows (the runs' jobs stay until retention removes them)."""
        async with self._write() as session:
            result = await session.execute(
                delete(TaskRow).where(TaskRow.id == task_id, TaskRow.project_id == project_id)
            )
        return bool(getattr(result, "rowcount", 0))

    async def insert_task_run(
        self,
        *,
        job_id: str,
        project_id: str,
        task_id: str,
        spec: dict[str, Any],
        webhook_url: str | None,
        metadata: Any,
        keep_blobs_days: float | None = None,
    ) -> TaskRunRecord:
        """A run: its ``steps`` job (queued) and its task_runs row, in one transaction."""
        now = utcnow()
        job = JobRow(
            id=job_id,
            project_id=project_id,
            kind=JobKind.STEPS.value,
            state=JobState.QUEUED.value,
            route=Route().to_dict(),
            spec=spec,
            billable=False,
            charged_cents=0,
            attempts=0,
            keep_blobs_days=keep_blobs_days,
            blobs_purged=False,
            created_at=now,
            updated_at=now,
        )
        run = TaskRunRow(
            job_id=job_id,
            task_id=task_id,
            project_id=project_id,
            webhook_url=webhook_url,
            run_metadata=metadata,
            created_at=now,
        )
        async with self._write() as session:
            session.add(job)
            await session.flush()
            session.add(run)
        return _task_run(run, job)

    async def get_task_run(self, job_id: str) -> TaskRunRecord | None:
        query = _RUNS.where(TaskRunRow.job_id == job_id)
        async with self._read() as session:
            found = (await session.execute(query)).first()
        return _task_run(found[0], found[1], found[2]) if found else None

    async def task_runs(self, task_id: str, *, offset: int, limit: int) -> list[TaskRunRecord]:
        """A task's runs, newest first."""
        query = (
            _RUNS.where(TaskRunRow.task_id == task_id)
            .order_by(TaskRunRow.created_at.desc(), TaskRunRow.job_id)
            .offset(offset)
            .limit(limit)
        )
        async with self._read() as session:
            return [_task_run(*found) for found in (await session.execute(query)).all()]

    async def count_jobs_since(self, project_id: str, kind: JobKind, since: datetime) -> int:
        """Jobs of ``kind`` the project created at or after ``since`` (any state): quota usage."""
        query = select(func.count()).where(
            JobRow.project_id == project_id, JobRow.kind == kind.value, JobRow.created_at >= since
        )
        async with self._read() as session:
            return int(await session.scalar(query) or 0)

    # --- webhook deliveries of runs (core/automations/webhooks.py) -------------------------------
    async def add_webhook_delivery(self, delivery: WebhookDeliveryRecord) -> bool:
        """Insert a run's delivery; False (and nothing changed) when the run already has one."""
        now = utcnow()
        row = WebhookDeliveryRow(**{**vars(delivery), "attempts": list(delivery.attempts)}, updated_at=now)
        try:
            async with self._write() as session:
                session.add(row)
        except IntegrityError:
            return False
        return True

    async def get_webhook_delivery(self, run_id: str) -> WebhookDeliveryRecord | None:
        async with self._read() as session:
            row = await session.get(WebhookDeliveryRow, run_id)
        return _delivery(row) if row is not None else None

    async def claim_webhook_deliveries(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> list[WebhookDeliveryRecord]:
        """Pending deliveries due at ``now``, each claimed by moving its due time to
        ``lease_until`` (a conditional update: two processes never claim the same one; a claim
        whose attempt is never recorded — a crash — falls due again when the lease ends)."""
        due = (
            select(WebhookDeliveryRow.run_id)
            .where(WebhookDeliveryRow.state == "pending", WebhookDeliveryRow.next_attempt_at <= now)
            .order_by(WebhookDeliveryRow.next_attempt_at)
            .limit(limit)
        )
        claimed: list[WebhookDeliveryRecord] = []
        async with self._write() as session:
            for run_id in list(await session.scalars(due)):
                result = await session.execute(
                    update(WebhookDeliveryRow)
                    .where(
                        WebhookDeliveryRow.run_id == run_id,
                        WebhookDeliveryRow.state == "pending",
                        WebhookDeliveryRow.next_attempt_at <= now,
                    )
                    .values(next_attempt_at=lease_until)
                )
                if getattr(result, "rowcount", 0):
                    row = await session.get(WebhookDeliveryRow, run_id)
                    if row is not None:
                        claimed.append(_delivery(row))
        return claimed

    async def record_webhook_attempt(
        self, run_id: str, attempt: dict[str, Any], state: str, next_attempt_at: datetime | None
    ) -> WebhookDeliveryRecord | None:
        """Append ``attempt`` to the delivery and move it to ``state`` (due again at
        ``next_attempt_at`` while pending)."""
        async with self._write() as session:
            row = await session.get(WebhookDeliveryRow, run_id)
            if row is None:
                return None
            row.attempts = [*row.attempts, attempt]
            row.state = state
            row.next_attempt_at = next_attempt_at
            row.updated_at = utcnow()
        return _delivery(row)

    async def next_webhook_due(self) -> datetime | None:
        query = select(func.min(WebhookDeliveryRow.next_attempt_at)).where(
            WebhookDeliveryRow.state == "pending"
        )
        async with self._read() as session:
            found = await session.scalar(query)
        return found if found is None else _utc(found)

    async def runs_without_webhook_delivery(
        self, finished_since: datetime, limit: int
    ) -> list[TaskRunRecord]:
        """Ended runs with a ``webhook_url`` and no delivery yet (the server stopped between the
        run's end and its delivery being recorded), ended at or after ``finished_since``."""
        query = _RUNS.where(
            TaskRunRow.webhook_url.is_not(None),
            WebhookDeliveryRow.run_id.is_(None),
            JobRow.state.in_(_TERMINAL),
            JobRow.finished_at >= finished_since,
        ).limit(limit)
        async with self._read() as session:
            return [_task_run(*found) for found in (await session.execute(query)).all()]

    # --- feeds over task runs (core/automations/feeds.py) --------------------------------------------------
    async def create_feed(self, feed: FeedRecord) -> FeedRecord:
        row = FeedRow(**vars(feed))
        async with self._write() as session:
            session.add(row)
        return _feed(row)

    async def get_feed(self, feed_id: str, project_id: str) -> FeedRecord | None:
        """The feed, or None if unknown or another project's."""
        async with self._read() as session:
            row = await session.get(FeedRow, feed_id)
        return _feed(row) if row is not None and row.project_id == project_id else None

    async def project_feeds(self, project_id: str) -> list[FeedRecord]:
        """A project's feeds, newest first."""
        query = select(FeedRow).where(FeedRow.project_id == project_id)
        async with self._read() as session:
            rows = await session.scalars(query.order_by(FeedRow.created_at.desc(), FeedRow.id))
            return [_feed(r) for r in rows]

    async def delete_feed(self, feed_id: str, project_id: str) -> bool:
        async with self._write() as session:
            result = await session.execute(
                delete(FeedRow).where(FeedRow.id == feed_id, FeedRow.project_id == project_id)
            )
        return bool(getattr(result, "rowcount", 0))

    async def finished_task_runs(self, task_id: str, *, limit: int) -> list[TaskRunRecord]:
        """A task's finished (completed) runs, newest first."""
        query = (
            _RUNS.where(TaskRunRow.task_id == task_id, JobRow.state == JobState.COMPLETED.value)
            .order_by(TaskRunRow.created_at.desc(), TaskRunRow.job_id)
            .limit(limit)
        )
        async with self._read() as session:
            return [_task_run(*found) for found in (await session.execute(query)).all()]

    async def last_finished_at(self, task_ids: Sequence[str]) -> dict[str, datetime]:
        """When each task's latest finished run ended (tasks without one are left out)."""
        if not task_ids:
            return {}
        query = (
            select(TaskRunRow.task_id, func.max(JobRow.finished_at))
            .join(JobRow, JobRow.id == TaskRunRow.job_id)
            .where(TaskRunRow.task_id.in_(task_ids), JobRow.state == JobState.COMPLETED.value)
            .group_by(TaskRunRow.task_id)
        )
        async with self._read() as session:
            found = (await session.execute(query)).all()
        return {task_id: _utc(at) for task_id, at in found if at is not None}


def _task(row: TaskRow) -> TaskRecord:
    return TaskRecord(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        viewport_width=row.viewport_width,
        viewport_height=row.viewport_height,
        steps=list(row.steps),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _task_run(run: TaskRunRow, job: JobRow, delivery: WebhookDeliveryRow | None = None) -> TaskRunRecord:
    return TaskRunRecord(
        job=_job(job),
        task_id=run.task_id,
        webhook_url=run.webhook_url,
        metadata=run.run_metadata,
        created_at=run.created_at,
        webhook_state=delivery.state if delivery is not None else None,
        webhook_attempts=tuple(delivery.attempts) if delivery is not None else (),
    )


def _delivery(row: WebhookDeliveryRow) -> WebhookDeliveryRecord:
    return WebhookDeliveryRecord(
        run_id=row.run_id,
        project_id=row.project_id,
        url=row.url,
        body=row.body,
        state=row.state,
        attempts=tuple(row.attempts),
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
    )


def _feed(row: FeedRow) -> FeedRecord:
    return FeedRecord(
        id=row.id,
        project_id=row.project_id,
        task_id=row.task_id,
        name=row.name,
        description=row.description,
        source=row.source,
        fields=row.fields,
        flatten=row.flatten,
        created_at=row.created_at,
    )
