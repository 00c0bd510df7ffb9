"""Helpers for tests that use a real :class:`~browserfleet.store.repo.Store`.

A store runs on a SQLite file (WAL, embedded mode) or on a database of the throwaway PostgreSQL
server (tests/support/postgres.py). ``fresh_postgres_url`` gives every caller its own empty
database, so tests never see each other's rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, text

from browserfleet.core.accounts import new_id
from browserfleet.core.jobs import JobKind, JobState, Route
from browserfleet.store.models import UTCDateTime
from browserfleet.store.records import JobOutcome, JobRecord, ProjectRecord
from browserfleet.store.repo import Store
from tests.support.postgres import PostgresServer


def sqlite_url(directory: Path, name: str = "store.db") -> str:
    return f"sqlite+aiosqlite:///{directory / name}"


def fresh_postgres_url(server: PostgresServer) -> str:
    """Create a new, empty database on ``server`` and return its SQLAlchemy async URL."""
    return server.create_database(f"t_{uuid.uuid4().hex[:20]}")


async def new_project(
    store: Store,
    *,
    name: str | None = None,
    concurrency: int = 10,
    timeout_s: int = 60,
    credit: dict[str, int] | None = None,
) -> ProjectRecord:
    """A project with ledger entries ``credit`` (kind → cents), e.g. ``{"paid": 100}``."""
    project = await store.create_project(
        project_id=new_id("prj"),
        name=name or f"project-{uuid.uuid4().hex[:8]}",
        concurrency=concurrency,
        timeout_s=timeout_s,
        quota=None,
    )
    for kind, cents in (credit or {}).items():
        await store.add_ledger_entry(project.id, kind, cents, f"{kind} credit")
    return project


async def new_job(
    store: Store,
    project_id: str,
    *,
    kind: JobKind = JobKind.RENDER,
    route: Route | None = None,
    spec: dict[str, Any] | None = None,
) -> JobRecord:
    return await store.insert_job(
        job_id=new_id("job"),
        project_id=project_id,
        kind=kind,
        route=route or Route(),
        spec=spec or {"url": "http://127.0.0.1/"},
    )


async def job_in_state(
    store: Store,
    project_id: str,
    state: JobState,
    *,
    kind: JobKind = JobKind.RENDER,
    billable: bool = False,
) -> JobRecord:
    """Insert a job and walk it through legal transitions to ``state``."""
    job = await new_job(store, project_id, kind=kind)
    if state is JobState.QUEUED:
        return job
    if state is JobState.CANCELLED:
        return await store.finish_job(job.id, JobOutcome(JobState.CANCELLED, error_code="CANCELLED"))
    job = await store.move_job(job.id, JobState.ASSIGNED, node_id="node-a", attempts=1)
    if state is JobState.ASSIGNED:
        return job
    job = await store.move_job(job.id, JobState.RUNNING)
    if state is JobState.RUNNING:
        return job
    return await store.finish_job(job.id, JobOutcome(state, result={"ok": True}, billable=billable))


async def set_job_times(store: Store, job_id: str, **times: datetime | None) -> None:
    """Move a job's timestamps (``created_at``, ``finished_at``, ...) with a raw SQL update."""
    assignments = ", ".join(f"{column} = :{column}" for column in times)
    statement = text(f"UPDATE jobs SET {assignments} WHERE id = :job_id").bindparams(
        *(bindparam(column, type_=UTCDateTime()) for column in times)
    )
    async with store.engine.begin() as conn:
        result = await conn.execute(statement, {"job_id": job_id, **times})
    assert result.rowcount == 1, f"job {job_id} not found"


async def charge_rows(store: Store, job_id: str) -> list[tuple[str, int]]:
    """(kind, cents) of every ledger entry that charged ``job_id``, read with raw SQL."""
    query = text("SELECT kind, cents FROM ledger_entries WHERE charge_job_id = :job_id ORDER BY id")
    async with store.engine.connect() as conn:
        rows = (await conn.execute(query, {"job_id": job_id})).all()
    return [(str(kind), int(cents)) for kind, cents in rows]
