"""Pooled PostgreSQL connections: the claim of a job, and dead connections replaced before use
(store/db.py checks a pooled connection at checkout without a round trip per claim)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from browserfleet.core.jobs import JobState
from browserfleet.store.repo import Store
from tests.support.postgres import PostgresServer
from tests.support.stores import fresh_postgres_url, new_job, new_project

pytestmark = pytest.mark.postgres


async def _terminate_backends(url: str) -> int:
    """What a server restart does to the pool: every other connection to the database is closed
    by the server."""
    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    try:
        query = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()"
        )
        return int(await conn.fetchval(query, parsed.database))
    finally:
        await conn.close()


async def test_claim_records_running_attempt_once_and_survives_closed_connections(
    postgres_server: PostgresServer,
) -> None:
    url = fresh_postgres_url(postgres_server)
    store = await Store.open(url)
    try:
        project = await new_project(store)
        jobs = [await new_job(store, project.id) for _ in range(4)]
        # fill the pool with several connections, then have the server close them all
        await asyncio.gather(*(store.count_by_state() for _ in range(5)))
        assert await _terminate_backends(url) >= 1
        await asyncio.sleep(0.2)  # the pooled sockets see the server's close

        claimed = await asyncio.gather(*(store.claim_job(job.id, "node-a") for job in jobs))
        for job, record in zip(jobs, claimed, strict=True):
            assert record is not None
            assert (record.id, record.state, record.node_id, record.attempts) == (
                job.id,
                JobState.RUNNING,
                "node-a",
                1,
            )
            assert record.started_at is not None and record.started_at.tzinfo is not None
            assert record.spec == job.spec
        assert await store.claim_job(jobs[0].id, "node-b") is None  # claimed once, never twice
        staged = await store.claim_job((await new_job(store, project.id)).id, "node-a", run=False)
        assert staged is not None and (staged.state, staged.attempts) == (JobState.ASSIGNED, 1)
        stored = await store.get_job(jobs[0].id)
        assert stored is not None
        assert (stored.state, stored.node_id, stored.attempts) == (JobState.RUNNING, "node-a", 1)
    finally:
        await store.close()
