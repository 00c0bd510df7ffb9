"""Jobs: insert, claim, move, finish (one transaction each), and the queries over them."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import Connection, Table, Update, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from browserfleet.core.errors import IllegalTransition
from browserfleet.core.jobs import ACTIVE_STATES, JobKind, JobState, Route, transition, utcnow
from browserfleet.store.models import JobRow, UTCDateTime
from browserfleet.store.records import (
    JobOutcome,
    JobRecord,
)
from browserfleet.store.repo.accounts import _BALANCES, LEDGER_KINDS, _charge
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
        record = JobRecord(
            id=job_id,
            project_id=project_id,
            kind=kind,
            state=JobState.QUEUED,
            route=route,
            spec=spec,
            result=None,
            error_code=None,
            error_message=None,
            billable=False,
            charged_cents=0,
            attempts=0,
            node_id=None,
            keep_blobs_days=keep_blobs_days,
            created_at=now,
            updated_at=now,
            started_at=None,
            finished_at=None,
            blobs_purged=False,
        )
        values = {column.key: getattr(record, column.key) for column in _JOBS.c}
        values.update(kind=kind.value, state=JobState.QUEUED.value, route=route.to_dict())
        await self._write_now(lambda conn: conn.execute(_INSERT, values), one_statement=True)
        return record

    async def get_job(self, job_id: str) -> JobRecord | None:
        found = await self._read_now(lambda conn: conn.execute(_GET, {"get_job": job_id}).one_or_none())
        return _job(found) if found is not None else None

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

    async def admission_counts(self, project_id: str, kind: JobKind) -> tuple[int, int]:
        """``(active jobs of kind, balance in cents)`` of the project, read in one statement
        (what admission weighs before it inserts a job: core/admission.py)."""
        params = {"adm_project": project_id, "adm_kind": kind.value}
        found = await self._read_now(lambda conn: conn.execute(_ADMISSION, params).one())
        return int(found[0] or 0), int(found[1] or 0)

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
        found = await self._write_now(
            lambda conn: conn.execute(_CLAIM, params).one_or_none(), one_statement=True
        )
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
        presumed dead and the job was requeued): a second finish is a no-op.

        On every job's path, so Core statements: the conditional UPDATE … RETURNING that ends the
        attempt (recording the cent a billable job is charged), then the charge itself; a balance
        found empty sets the cent back to 0 — one transaction, nobody sees it in between."""
        params = {
            "fin_job": job_id,
            "fin_attempt": attempt,
            "fin_result": outcome.result,
            "fin_code": outcome.error_code,
            "fin_message": outcome.error_message,
            "fin_billable": outcome.billable,
            "fin_charged": 1 if outcome.billable else 0,
            "fin_at": utcnow(),
        }
        return await self._write_now(lambda conn: _finish_run(conn, outcome, params))


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


_INSERT = insert(_JOBS)
_GET = select(*_JOBS.c).where(_JOBS.c.id == bindparam("get_job"))
_ADMISSION = select(
    select(func.count())
    .where(
        _JOBS.c.project_id == bindparam("adm_project"),
        _JOBS.c.kind == bindparam("adm_kind"),
        _JOBS.c.state.in_([s.value for s in ACTIVE_STATES]),
    )
    .scalar_subquery(),
    select(func.coalesce(func.sum(_BALANCES.c.cents), 0))
    .where(_BALANCES.c.project_id == bindparam("adm_project"), _BALANCES.c.kind.in_(LEDGER_KINDS))
    .scalar_subquery(),
)
_FIN_AT = bindparam("fin_at", type_=UTCDateTime())
_CHARGED = (
    update(_JOBS).where(_JOBS.c.id == bindparam("chg_job")).values(charged_cents=bindparam("chg_cents"))
)


@functools.cache
def _finish_statement(target: JobState) -> Update:
    """The conditional UPDATE … RETURNING that ends the attempt it names with ``target``: only
    from a state the machine allows (core.jobs.transition), and only that attempt."""
    sources = [state.value for state in JobState if _allows(state, target)]
    return (
        update(_JOBS)
        .where(
            _JOBS.c.id == bindparam("fin_job"),
            _JOBS.c.attempts == bindparam("fin_attempt"),
            _JOBS.c.state.in_(sources),
        )
        .values(
            state=target.value,
            result=bindparam("fin_result", type_=_JOBS.c.result.type),
            error_code=bindparam("fin_code"),
            error_message=bindparam("fin_message"),
            billable=bindparam("fin_billable"),
            charged_cents=bindparam("fin_charged"),
            finished_at=_FIN_AT,
            updated_at=_FIN_AT,
        )
        .returning(*_JOBS.c)
    )


def _allows(current: JobState, target: JobState) -> bool:
    try:
        transition(current, target)
    except IllegalTransition:
        return False
    return True


def _finish_run(conn: Connection, outcome: JobOutcome, params: dict[str, Any]) -> JobRecord | None:
    """:meth:`JobQueries.finish_attempt`'s transaction."""
    found = conn.execute(_finish_statement(outcome.state), params).one_or_none()
    if found is None:
        _explain_no_finish(conn, params["fin_job"], params["fin_attempt"], outcome.state)
        return None
    record = _job(found)
    if outcome.billable and not _charge(conn, record.project_id, record.id):
        conn.execute(_CHARGED, {"chg_job": record.id, "chg_cents": 0})
        record = replace(record, charged_cents=0)
    return record


def _explain_no_finish(conn: Connection, job_id: str, attempt: int, target: JobState) -> None:
    """Why :func:`_finish_statement` changed nothing: a missing job or a move the machine forbids
    raise IllegalTransition; a job already terminal, or another attempt's, is a quiet no-op."""
    found = conn.execute(_GET, {"get_job": job_id}).one_or_none()
    if found is None:
        raise IllegalTransition(f"job {job_id} does not exist")
    state = JobState(found.state)
    if not state.terminal and found.attempts == attempt:
        transition(state, target)


async def _finish(session: AsyncSession, row: JobRow, outcome: JobOutcome) -> None:
    row.state = transition(JobState(row.state), outcome.state).value
    row.result = outcome.result
    row.error_code = outcome.error_code
    row.error_message = outcome.error_message
    row.billable = outcome.billable
    row.finished_at = row.updated_at = utcnow()
    if outcome.billable:
        row.charged_cents = await session.run_sync(_charge, row.project_id, row.id)


async def _locked_job(session: AsyncSession, job_id: str) -> JobRow:
    row = await session.scalar(select(JobRow).where(JobRow.id == job_id).with_for_update())
    if row is None:
        raise IllegalTransition(f"job {job_id} does not exist")
    return row
