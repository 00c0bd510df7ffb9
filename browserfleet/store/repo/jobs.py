"""Jobs: insert, claim, move, finish (one transaction each), and the queries over them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from browserfleet.core.errors import IllegalTransition
from browserfleet.core.jobs import ACTIVE_STATES, JobKind, JobState, Route, transition, utcnow
from browserfleet.store.models import JobRow, UTCDateTime
from browserfleet.store.records import (
    JobOutcome,
    JobRecord,
)
from browserfleet.store.repo.accounts import _charge
from browserfleet.store.repo.base import StoreBase, _job


class JobQueries(StoreBase):
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

    async def get_jobs(self, job_ids: Iterable[str]) -> dict[str, JobRecord]:
        """The jobs found among ``job_ids``, read in one statement (one consistent snapshot: a
        transaction that changed several of them is seen whole or not at all)."""
        async with self._read() as session:
            rows = (await session.scalars(select(JobRow).where(JobRow.id.in_(list(job_ids))))).all()
        return {row.id: _job(row) for row in rows}

    async def count_active(self, project_id: str, kind: JobKind) -> int:
        query = select(func.count()).where(
            JobRow.project_id == project_id,
            JobRow.kind == kind.value,
            JobRow.state.in_([s.value for s in ACTIVE_STATES]),
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

    async def claim_job(self, job_id: str, node_id: str, *, run: bool = True) -> JobRecord | None:
        """``queued → assigned → running`` for ``node_id`` in one transaction (``run=False``: only
        to ``assigned``, the executor marks it running once prepared); None if the job is no
        longer queued (cancelled, finished, or claimed through a duplicate ticket)."""
        target = transition(JobState.QUEUED, JobState.ASSIGNED)
        if run:
            target = transition(JobState.ASSIGNED, JobState.RUNNING)
        params = {
            "claim_job": job_id,
            "claim_state": target.value,
            "claim_node": node_id,
            "claim_at": utcnow(),
        }
        if self._is_sqlite:
            async with self._write() as session:
                found = (await session.execute(_CLAIM, params)).one_or_none()
            return _job(found) if found is not None else None
        # one statement, atomic on its own: no BEGIN/COMMIT round trips
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            found = (await conn.execute(_CLAIM, params)).one_or_none()
        return _job(found) if found is not None else None

    async def discard_job(self, job_id: str) -> bool:
        """Delete a job that no node ever took (still queued, never attempted): its create was
        answered with a refusal after all (a full fleet), so nothing of it is kept. False when
        the job was taken meanwhile (it stays)."""
        query = delete(JobRow).where(
            JobRow.id == job_id, JobRow.state == JobState.QUEUED.value, JobRow.attempts == 0
        )
        async with self._write() as session:
            result = await session.execute(query)
        return bool(getattr(result, "rowcount", 0))

    async def move_job(self, job_id: str, target: JobState, **fields: Any) -> JobRecord:
        """Perform one non-terminal transition (checked by core.jobs.transition)."""
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            row.state = transition(JobState(row.state), target).value
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
        return _job(row)

    async def requeue_attempt(self, job_id: str, attempt: int) -> JobRecord | None:
        """``assigned``/``running`` → ``queued`` (node cleared) for a job whose node is gone; None,
        and nothing changed, when the job is in another state or another attempt owns it."""
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            if row.state not in (JobState.ASSIGNED, JobState.RUNNING) or row.attempts != attempt:
                return None
            row.state = transition(JobState(row.state), JobState.QUEUED).value
            row.node_id = None
            row.updated_at = utcnow()
        return _job(row)

    async def finish_job(self, job_id: str, outcome: JobOutcome) -> JobRecord:
        """Move a job to a terminal state and charge it (1 cent if billable) in one transaction.

        A job already terminal raises IllegalTransition, so a job is never finished — or
        charged — twice.
        """
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            await _finish(session, row, outcome)
        return _job(row)

    async def finish_attempt(self, job_id: str, outcome: JobOutcome, attempt: int) -> JobRecord | None:
        """:meth:`finish_job` for whoever runs ``attempt`` of the job; None, and nothing changed
        or charged, when the job is already terminal or another attempt owns it now (its node was
        presumed dead and the job was requeued): a second finish is a no-op."""
        async with self._write() as session:
            row = await _locked_job(session, job_id)
            if JobState(row.state).terminal or row.attempts != attempt:
                return None
            await _finish(session, row, outcome)
        return _job(row)


# The claim is on every job's path (dispatch latency): one conditional UPDATE … RETURNING, built
# once (its compiled form is cached) and returning plain rows, not ORM objects.
_JOBS = cast(Table, JobRow.__table__)
_CLAIM_AT = bindparam("claim_at", type_=UTCDateTime())
_CLAIM = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("claim_job"), _JOBS.c.state == JobState.QUEUED.value)
    .values(
        state=bindparam("claim_state"),
        node_id=bindparam("claim_node"),
        attempts=_JOBS.c.attempts + 1,
        started_at=_CLAIM_AT,
        updated_at=_CLAIM_AT,
    )
    .returning(*_JOBS.c)
)


async def _finish(session: AsyncSession, row: JobRow, outcome: JobOutcome) -> None:
    row.state = transition(JobState(row.state), outcome.state).value
    row.result = outcome.result
    row.error_code = outcome.error_code
    row.error_message = outcome.error_message
    row.billable = outcome.billable
    row.finished_at = row.updated_at = utcnow()
    if outcome.billable:
        row.charged_cents = await _charge(session, row.project_id, row.id)


async def _locked_job(session: AsyncSession, job_id: str) -> JobRow:
    row = await session.scalar(select(JobRow).where(JobRow.id == job_id).with_for_update())
    if row is None:
        raise IllegalTransition(f"job {job_id} does not exist")
    return row
