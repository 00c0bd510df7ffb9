"""The repository: every query browserfleet runs. Returns records from store/records.py.

On SQLite (embedded mode, one process) writes are serialised by an asyncio lock so that a
read-then-write transaction never meets SQLITE_BUSY; readers are never blocked (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from browserfleet.core.errors import Conflict, IllegalTransition
from browserfleet.core.jobs import JobKind, JobState, Route, transition, utcnow
from browserfleet.store.db import create_engine, migrate
from browserfleet.store.models import (
    ApiKeyRow,
    BalanceRow,
    ContextRow,
    JobRow,
    LedgerRow,
    ProjectRow,
    TaskRow,
    TaskRunRow,
)
from browserfleet.store.records import (
    ContextRecord,
    JobOutcome,
    JobRecord,
    ProjectRecord,
    TaskRecord,
    TaskRunRecord,
)

LEDGER_KINDS = ("free", "bonus", "paid")  # spending order


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> Store:
        engine = create_engine(url)
        await migrate(engine)
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        lock = self._write_lock if self._is_sqlite else contextlib.nullcontext()
        async with lock, self._sessions() as session, session.begin():
            yield session

    # --- projects and keys --------------------------------------------------------------------
    async def create_project(
        self, *, project_id: str, name: str, concurrency: int, timeout_s: int, quota: int | None
    ) -> ProjectRecord:
        row = ProjectRow(
            id=project_id,
            name=name,
            concurrency_limit=concurrency,
            default_timeout_s=timeout_s,
            monthly_quota=quota,
            created_at=utcnow(),
        )
        try:
            async with self._write() as session:
                session.add(row)
        except IntegrityError as exc:
            raise Conflict(f"Project {name!r} already exists") from exc
        return _project(row)

    async def project_by_name(self, name: str) -> ProjectRecord | None:
        async with self._read() as session:
            row = await session.scalar(select(ProjectRow).where(ProjectRow.name == name))
        return _project(row) if row else None

    async def projects(self) -> list[ProjectRecord]:
        async with self._read() as session:
            rows = await session.scalars(select(ProjectRow).order_by(ProjectRow.created_at))
        return [_project(r) for r in rows]

    async def add_api_key(self, key_id: str, project_id: str, key_hash: str, prefix: str) -> None:
        async with self._write() as session:
            session.add(
                ApiKeyRow(
                    id=key_id, project_id=project_id, key_hash=key_hash, prefix=prefix, created_at=utcnow()
                )
            )

    async def count_api_keys(self) -> int:
        async with self._read() as session:
            return int(await session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)

    async def project_for_key(self, key_hash: str) -> ProjectRecord | None:
        query = (
            select(ProjectRow)
            .join(ApiKeyRow, ApiKeyRow.project_id == ProjectRow.id)
            .where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None))
        )
        async with self._read() as session:
            row = await session.scalar(query)
        return _project(row) if row else None

    # --- ledger -------------------------------------------------------------------------------
    async def add_ledger_entry(self, project_id: str, kind: str, cents: int, reason: str) -> None:
        async with self._write() as session:
            await _lock_balances(session, project_id)
            await _post(session, project_id, kind, cents, reason, None)

    async def balance(self, project_id: str) -> dict[str, int]:
        async with self._read() as session:
            rows = await session.scalars(select(BalanceRow).where(BalanceRow.project_id == project_id))
            return _by_kind(rows)

    # --- jobs ---------------------------------------------------------------------------------
    async def insert_job(
        self,
        *,
        job_id: str,
        project_id: str,
        kind: JobKind,
        route: Route,
        spec: dict[str, Any],
        keep_blobs_days: float | None = None,
    ) -> JobRecord:
        now = utcnow()
        row = JobRow(
            id=job_id,
            project_id=project_id,
            kind=kind.value,
            state=JobState.QUEUED.value,
            route=route.to_dict(),
            spec=spec,
            billable=False,
            charged_cents=0,
            attempts=0,
            keep_blobs_days=keep_blobs_days,
            blobs_purged=False,
            created_at=now,
            updated_at=now,
        )
        async with self._write() as session:
            session.add(row)
        return _job(row)

    async def get_job(self, job_id: str) -> JobRecord | None:
        async with self._read() as session:
            row = await session.get(JobRow, job_id)
        return _job(row) if row else None

    async def count_active(self, project_id: str, kind: JobKind) -> int:
        query = select(func.count()).where(
            JobRow.project_id == project_id,
            JobRow.kind == kind.value,
            JobRow.state.in_([JobState.QUEUED, JobState.ASSIGNED, JobState.RUNNING]),
        )
        async with self._read() as session:
            return int(await session.scalar(query) or 0)

    async def project_jobs(
        self, project_id: str, kind: JobKind, states: Iterable[JobState] | None = None, limit: int = 1000
    ) -> list[JobRecord]:
        """A project's jobs of ``kind`` (optionally only in ``states``), newest first."""
        query = select(JobRow).where(JobRow.project_id == project_id, JobRow.kind == kind.value)
        if states is not None:
            query = query.where(JobRow.state.in_([s.value for s in states]))
        query = query.order_by(JobRow.created_at.desc()).limit(limit)
        async with self._read() as session:
            return [_job(r) for r in await session.scalars(query)]

    async def usage_totals(self, project_id: str, kinds: Iterable[JobKind]) -> tuple[float, int]:
        """Sum of ``browserMinutes`` and ``proxyBytes`` over the project's finished jobs of ``kinds``
        (the usage their executors record in the job result; jobs without it count 0)."""
        minutes = JobRow.result["browserMinutes"].as_float()
        proxy_bytes = JobRow.result["proxyBytes"].as_integer()
        query = select(func.coalesce(func.sum(minutes), 0.0), func.coalesce(func.sum(proxy_bytes), 0)).where(
            JobRow.project_id == project_id,
            JobRow.kind.in_([k.value for k in kinds]),
            JobRow.state.in_([JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]),
        )
        async with self._read() as session:
            row = (await session.execute(query)).one()
        return float(row[0] or 0.0), int(row[1] or 0)

    async def count_by_state(self) -> dict[str, int]:
        query = select(JobRow.state, func.count()).group_by(JobRow.state)
        async with self._read() as session:
            rows = (await session.execute(query)).all()
        return {state: int(count) for state, count in rows}

    async def jobs_in_states(self, states: Iterable[JobState]) -> list[JobRecord]:
        query = select(JobRow).where(JobRow.state.in_([s.value for s in states])).order_by(JobRow.created_at)
        async with self._read() as session:
            return [_job(r) for r in await session.scalars(query)]

    async def claim_job(self, job_id: str, node_id: str) -> JobRecord | None:
        """``queued → assigned → running`` for ``node_id`` in one transaction; None if the job is
        no longer queued (cancelled, finished, or claimed through a duplicate ticket)."""
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            if row.state != JobState.QUEUED:
                return None
            transition(JobState.QUEUED, JobState.ASSIGNED)
            row.state = transition(JobState.ASSIGNED, JobState.RUNNING).value
            row.node_id = node_id
            row.attempts += 1
            row.started_at = row.updated_at = utcnow()
        return _job(row)

    async def move_job(self, job_id: str, target: JobState, **fields: Any) -> JobRecord:
        """Perform one non-terminal transition (checked by core.jobs.transition)."""
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            row.state = transition(JobState(row.state), target).value
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
        return _job(row)

    async def finish_job(self, job_id: str, outcome: JobOutcome) -> JobRecord:
        """Move a job to a terminal state and charge it (1 cent if billable) in one transaction.

        A job already terminal raises IllegalTransition, so a job is never finished — or
        charged — twice.
        """
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            now = utcnow()
            row.state = transition(JobState(row.state), outcome.state).value
            row.result = outcome.result
            row.error_code = outcome.error_code
            row.error_message = outcome.error_message
            row.billable = outcome.billable
            row.finished_at = row.updated_at = now
            if outcome.billable:
                row.charged_cents = await _charge(session, row.project_id, job_id)
        return _job(row)

    # --- contexts (saved browser profiles) -----------------------------------------------------
    async def create_context(
        self, *, context_id: str, project_id: str, name: str | None, wrapped_private_key: str
    ) -> ContextRecord:
        now = utcnow()
        row = ContextRow(
            id=context_id,
            project_id=project_id,
            name=name,
            wrapped_private_key=wrapped_private_key,
            data_bytes=0,
            created_at=now,
            updated_at=now,
        )
        async with self._write() as session:
            session.add(row)
        return _context(row)

    async def get_context(self, context_id: str, project_id: str | None = None) -> ContextRecord | None:
        """The context, or None if unknown (or not ``project_id``'s when given)."""
        async with self._read() as session:
            row = await session.get(ContextRow, context_id)
        if row is None or (project_id is not None and row.project_id != project_id):
            return None
        return _context(row)

    async def update_context(self, context_id: str, **fields: Any) -> ContextRecord | None:
        """Set ``fields`` (and ``updated_at``); None if the context no longer exists."""
        async with self._write() as session:
            query = select(ContextRow).where(ContextRow.id == context_id).with_for_update()
            row = await session.scalar(query)
            if row is None:
                return None
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
        return _context(row)

    async def delete_context(self, context_id: str, project_id: str) -> bool:
        async with self._write() as session:
            result = await session.execute(
                delete(ContextRow).where(ContextRow.id == context_id, ContextRow.project_id == project_id)
            )
        return bool(getattr(result, "rowcount", 0))

    # --- automations (tasks and their runs) ---------------------------------------------------
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
        query = select(TaskRunRow, JobRow).join(JobRow, JobRow.id == TaskRunRow.job_id)
        async with self._read() as session:
            found = (await session.execute(query.where(TaskRunRow.job_id == job_id))).first()
        return _task_run(found[0], found[1]) if found else None

    async def task_runs(self, task_id: str, *, offset: int, limit: int) -> list[TaskRunRecord]:
        """A task's runs, newest first."""
        query = (
            select(TaskRunRow, JobRow)
            .join(JobRow, JobRow.id == TaskRunRow.job_id)
            .where(TaskRunRow.task_id == task_id)
            .order_by(TaskRunRow.created_at.desc(), TaskRunRow.job_id)
            .offset(offset)
            .limit(limit)
        )
        async with self._read() as session:
            return [_task_run(run, job) for run, job in (await session.execute(query)).all()]

    async def count_jobs_since(self, project_id: str, kind: JobKind, since: datetime) -> int:
        """Jobs of ``kind`` the project created at or after ``since`` (any state): quota usage."""
        query = select(func.count()).where(
            JobRow.project_id == project_id, JobRow.kind == kind.value, JobRow.created_at >= since
        )
        async with self._read() as session:
            return int(await session.scalar(query) or 0)

    # --- retention ----------------------------------------------------------------------------
    async def jobs_with_blobs(self, finished_before: datetime) -> list[JobRecord]:
        query = select(JobRow).where(
            JobRow.blobs_purged.is_(False),
            JobRow.state.in_([JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]),
            JobRow.finished_at < finished_before,
        )
        async with self._read() as session:
            return [_job(r) for r in await session.scalars(query)]

    async def mark_blobs_purged(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        async with self._write() as session:
            await session.execute(update(JobRow).where(JobRow.id.in_(job_ids)).values(blobs_purged=True))

    async def delete_jobs_created_before(self, cutoff: datetime) -> list[str]:
        async with self._write() as session:
            ids = list(await session.scalars(select(JobRow.id).where(JobRow.created_at < cutoff)))
            if ids:
                await session.execute(delete(JobRow).where(JobRow.id.in_(ids)))
        return ids


async def _locked_job(session: AsyncSession, job_id: str) -> JobRow:
    row = await session.scalar(select(JobRow).where(JobRow.id == job_id).with_for_update())
    if row is None:
        raise IllegalTransition(f"job {job_id} does not exist")
    return row


async def _lock_balances(session: AsyncSession, project_id: str) -> dict[str, BalanceRow]:
    """The project's balance rows, locked (PostgreSQL) so concurrent charges take turns."""
    query = select(BalanceRow).where(BalanceRow.project_id == project_id).with_for_update()
    return {row.kind: row for row in await session.scalars(query)}


async def _post(
    session: AsyncSession, project_id: str, kind: str, cents: int, reason: str, job_id: str | None
) -> None:
    """Write a ledger entry and move the running balance with it."""
    session.add(
        LedgerRow(
            project_id=project_id,
            kind=kind,
            cents=cents,
            charge_job_id=job_id,
            reason=reason,
            created_at=utcnow(),
        )
    )
    row = await session.get(BalanceRow, (project_id, kind))
    if row is None:
        session.add(BalanceRow(project_id=project_id, kind=kind, cents=cents))
    else:
        row.cents += cents


async def _charge(session: AsyncSession, project_id: str, job_id: str) -> int:
    """Take one cent from the first kind with money left (free, then bonus, then paid)."""
    rows = await _lock_balances(session, project_id)
    kind = next((k for k in LEDGER_KINDS if k in rows and rows[k].cents > 0), None)
    if kind is None:
        return 0
    await _post(session, project_id, kind, -1, "render", job_id)
    return 1


def _by_kind(rows: Iterable[BalanceRow]) -> dict[str, int]:
    found = {row.kind: row.cents for row in rows}
    return {kind: found.get(kind, 0) for kind in LEDGER_KINDS}


def _project(row: ProjectRow) -> ProjectRecord:
    return ProjectRecord(
        id=row.id,
        name=row.name,
        concurrency_limit=row.concurrency_limit,
        default_timeout_s=row.default_timeout_s,
        monthly_quota=row.monthly_quota,
        created_at=row.created_at,
    )


def _context(row: ContextRow) -> ContextRecord:
    return ContextRecord(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        wrapped_private_key=row.wrapped_private_key,
        upload_token_hash=row.upload_token_hash,
        upload_expires_at=row.upload_expires_at,
        blob_name=row.blob_name,
        data_bytes=row.data_bytes,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _job(row: JobRow) -> JobRecord:
    return JobRecord(
        id=row.id,
        project_id=row.project_id,
        kind=JobKind(row.kind),
        state=JobState(row.state),
        route=Route.from_dict(row.route),
        spec=row.spec,
        result=row.result,
        error_code=row.error_code,
        error_message=row.error_message,
        billable=row.billable,
        charged_cents=row.charged_cents,
        attempts=row.attempts,
        node_id=row.node_id,
        keep_blobs_days=row.keep_blobs_days,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        blobs_purged=row.blobs_purged,
    )


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


def _task_run(run: TaskRunRow, job: JobRow) -> TaskRunRecord:
    return TaskRunRecord(
        job=_job(job),
        task_id=run.task_id,
        webhook_url=run.webhook_url,
        metadata=run.run_metadata,
        created_at=run.created_at,
    )
