"""The repository (store/repo.py) on SQLite and on PostgreSQL: projects, keys, ledger, jobs, charging.

Each test runs once per backend (see conftest.py) against a freshly migrated database.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from browserfleet.core.accounts import Accounts, hash_key, new_id
from browserfleet.core.errors import Conflict, ErrorCode, IllegalTransition
from browserfleet.core.jobs import JobKind, JobState, Route, RouteKind
from browserfleet.store.records import JobOutcome, JobRecord
from browserfleet.store.repo import Store
from tests.support.stores import (
    charge_rows,
    job_in_state,
    new_job,
    new_project,
    set_job_times,
    sqlite_url,
)

BILLABLE_DONE = JobOutcome(JobState.COMPLETED, result={"html": "<p>x</p>"}, billable=True)


def _close_to_now(moment: datetime, slack: timedelta = timedelta(minutes=1)) -> bool:
    return moment.tzinfo is not None and abs(datetime.now(UTC) - moment) < slack


async def _running_job(store: Store, project_id: str) -> JobRecord:
    return await job_in_state(store, project_id, JobState.RUNNING)


# --- SQLite specifics ---------------------------------------------------------------------------


async def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = await Store.open(sqlite_url(tmp_path))
    try:
        assert store.backend == "sqlite"
        async with store.engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
            foreign_keys = (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one()
        assert str(mode).lower() == "wal"
        assert foreign_keys == 1
        assert (tmp_path / "store.db-wal").exists()
    finally:
        await store.close()


# --- projects and keys ---------------------------------------------------------------------------


async def test_create_project_and_duplicate_name_conflicts(store: Store) -> None:
    created = await store.create_project(
        project_id=new_id("prj"), name="alpha", concurrency=7, timeout_s=45, quota=1000
    )
    assert _close_to_now(created.created_at)

    found = await store.project_by_name("alpha")
    assert found == created
    assert (found.concurrency_limit, found.default_timeout_s, found.monthly_quota) == (7, 45, 1000)
    assert await store.project_by_name("beta") is None

    with pytest.raises(Conflict, match="'alpha' already exists"):
        await store.create_project(
            project_id=new_id("prj"), name="alpha", concurrency=1, timeout_s=1, quota=None
        )

    other = await store.create_project(
        project_id=new_id("prj"), name="beta", concurrency=1, timeout_s=1, quota=None
    )
    projects = await store.projects()
    assert [p.name for p in projects] == ["alpha", "beta"]
    assert [p.id for p in projects] == [created.id, other.id]


async def test_api_keys_are_stored_only_hashed(store: Store) -> None:
    accounts = Accounts(store, free_cents=0, concurrency=3, timeout_s=30)
    first = await accounts.create_key()  # creates project "default"
    second = await accounts.create_key("default")
    assert first.key != second.key
    assert await store.count_api_keys() == 2

    async with store.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM api_keys"))).mappings().all()
    assert len(rows) == 2
    dumped = repr([dict(row) for row in rows])
    for new_key in (first, second):
        secret = new_key.key[10:]
        assert new_key.key not in dumped
        assert secret not in dumped  # only the 10-character display prefix is kept in clear
    by_hash = {row["key_hash"]: row for row in rows}
    for new_key in (first, second):
        digest = hashlib.sha256(new_key.key.encode()).hexdigest()
        assert by_hash[digest]["prefix"] == new_key.key[:10]
        assert by_hash[digest]["project_id"] == first.project.id

    project = await store.project_for_key(hash_key(first.key))
    assert project is not None
    assert (project.id, project.name) == (first.project.id, "default")
    assert await store.project_for_key(first.key) is None  # the raw key is not a lookup key
    assert await store.project_for_key(hash_key(first.key + "x")) is None

    async with store.engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_keys SET revoked_at = created_at WHERE key_hash = :h"),
            {"h": hash_key(first.key)},
        )
    assert await store.project_for_key(hash_key(first.key)) is None
    still = await store.project_for_key(hash_key(second.key))
    assert still is not None
    assert still.id == first.project.id


# --- ledger --------------------------------------------------------------------------------------


async def test_balance_is_summed_per_kind(store: Store) -> None:
    project = await new_project(store, credit={"free": 5, "bonus": 7, "paid": 11})
    await store.add_ledger_entry(project.id, "paid", -2, "refund")
    await store.add_ledger_entry(project.id, "bonus", 3, "promo")
    other = await new_project(store, credit={"paid": 1000})
    empty = await new_project(store)

    assert await store.balance(project.id) == {"free": 5, "bonus": 10, "paid": 9}
    assert await store.balance(other.id) == {"free": 0, "bonus": 0, "paid": 1000}
    assert await store.balance(empty.id) == {"free": 0, "bonus": 0, "paid": 0}


# --- jobs ----------------------------------------------------------------------------------------


async def test_insert_and_get_job(store: Store) -> None:
    project = await new_project(store)
    spec = {"url": "http://127.0.0.1:9/page", "wait_for": [{"selector": "#a"}], "timeout_s": 12.5}
    inserted = await store.insert_job(
        job_id="job_insert_1",
        project_id=project.id,
        kind=JobKind.RENDER,
        route=Route(RouteKind.COUNTRY, "DE", fanout=2),
        spec=spec,
        keep_blobs_days=1.5,
    )
    fetched = await store.get_job("job_insert_1")
    assert fetched == inserted
    assert fetched.state is JobState.QUEUED
    assert fetched.kind is JobKind.RENDER
    assert fetched.route == Route(RouteKind.COUNTRY, "DE", fanout=2)
    assert fetched.spec == spec
    assert fetched.keep_blobs_days == 1.5
    assert (fetched.billable, fetched.charged_cents, fetched.attempts, fetched.blobs_purged) == (
        False,
        0,
        0,
        False,
    )
    assert fetched.result is None
    assert fetched.node_id is fetched.started_at is fetched.finished_at is None
    assert _close_to_now(fetched.created_at)
    assert fetched.created_at.tzinfo is not None
    assert await store.get_job("job_missing") is None


async def test_move_job_follows_legal_transitions_and_writes_fields(store: Store) -> None:
    project = await new_project(store)
    job = await new_job(store, project.id)

    assigned = await store.move_job(job.id, JobState.ASSIGNED, node_id="node-7", attempts=1)
    assert (assigned.state, assigned.node_id, assigned.attempts) == (JobState.ASSIGNED, "node-7", 1)
    started = datetime.now(UTC)
    running = await store.move_job(job.id, JobState.RUNNING, started_at=started)
    assert running.state is JobState.RUNNING
    requeued = await store.move_job(job.id, JobState.QUEUED, node_id=None)
    assert requeued.updated_at >= running.updated_at >= job.updated_at

    stored = await store.get_job(job.id)
    assert stored is not None
    assert (stored.state, stored.node_id, stored.attempts) == (JobState.QUEUED, None, 1)
    assert stored.started_at is not None
    assert abs(stored.started_at - started) < timedelta(milliseconds=1)


async def test_move_job_rejects_illegal_transitions(store: Store) -> None:
    project = await new_project(store)
    job = await new_job(store, project.id)

    for target in (JobState.RUNNING, JobState.COMPLETED, JobState.FAILED, JobState.QUEUED):
        with pytest.raises(IllegalTransition, match=f"from queued to {target.value}"):
            await store.move_job(job.id, target, node_id="sneaky")
    stored = await store.get_job(job.id)
    assert stored is not None
    assert (stored.state, stored.node_id) == (JobState.QUEUED, None)  # nothing written

    with pytest.raises(IllegalTransition, match="does not exist"):
        await store.move_job("job_nope", JobState.ASSIGNED)

    done = await job_in_state(store, project.id, JobState.COMPLETED)
    for target in JobState:
        with pytest.raises(IllegalTransition):
            await store.move_job(done.id, target)
    final = await store.get_job(done.id)
    assert final is not None
    assert final.state is JobState.COMPLETED


# --- finishing and charging ----------------------------------------------------------------------


async def test_finish_job_charges_one_cent_only_when_billable(store: Store) -> None:
    project = await new_project(store, credit={"paid": 10})

    billable = await _running_job(store, project.id)
    finished = await store.finish_job(billable.id, BILLABLE_DONE)
    assert (finished.state, finished.billable, finished.charged_cents) == (JobState.COMPLETED, True, 1)
    assert finished.result == {"html": "<p>x</p>"}
    assert finished.finished_at is not None
    assert _close_to_now(finished.finished_at)
    assert await store.balance(project.id) == {"free": 0, "bonus": 0, "paid": 9}
    assert await charge_rows(store, billable.id) == [("paid", -1)]

    free_of_charge = await _running_job(store, project.id)
    code = ErrorCode.NODE_LOST
    outcome = JobOutcome(JobState.FAILED, error_code=code.value, error_message="gone", billable=code.billable)
    failed = await store.finish_job(free_of_charge.id, outcome)
    assert (failed.state, failed.error_code, failed.error_message) == (JobState.FAILED, "NODE_LOST", "gone")
    assert (failed.billable, failed.charged_cents) == (False, 0)
    assert await store.balance(project.id) == {"free": 0, "bonus": 0, "paid": 9}
    assert await charge_rows(store, free_of_charge.id) == []

    stored = await store.get_job(billable.id)
    assert stored == finished


async def test_charges_spend_free_then_bonus_then_paid(store: Store) -> None:
    project = await new_project(store, credit={"paid": 2, "bonus": 1, "free": 1})
    expected_after = [
        ("free", {"free": 0, "bonus": 1, "paid": 2}),
        ("bonus", {"free": 0, "bonus": 0, "paid": 2}),
        ("paid", {"free": 0, "bonus": 0, "paid": 1}),
        ("paid", {"free": 0, "bonus": 0, "paid": 0}),
    ]
    for kind, balance in expected_after:
        job = await _running_job(store, project.id)
        finished = await store.finish_job(job.id, BILLABLE_DONE)
        assert finished.charged_cents == 1
        assert await charge_rows(store, job.id) == [(kind, -1)]
        assert await store.balance(project.id) == balance

    broke = await _running_job(store, project.id)
    finished = await store.finish_job(broke.id, BILLABLE_DONE)
    assert (finished.state, finished.charged_cents) == (JobState.COMPLETED, 0)
    assert await charge_rows(store, broke.id) == []
    assert await store.balance(project.id) == {"free": 0, "bonus": 0, "paid": 0}


async def test_finishing_twice_raises_and_never_charges_twice(store: Store) -> None:
    project = await new_project(store, credit={"paid": 5})
    job = await _running_job(store, project.id)
    first = await store.finish_job(job.id, BILLABLE_DONE)

    again = (
        BILLABLE_DONE,
        JobOutcome(JobState.FAILED, error_code="WAIT_TIMEOUT", billable=True),
        JobOutcome(JobState.CANCELLED, error_code="CANCELLED"),
    )
    for outcome in again:
        with pytest.raises(IllegalTransition, match="from completed"):
            await store.finish_job(job.id, outcome)

    assert await charge_rows(store, job.id) == [("paid", -1)]
    assert await store.balance(project.id) == {"free": 0, "bonus": 0, "paid": 4}
    assert await store.get_job(job.id) == first


async def test_concurrent_finish_of_one_job_charges_once(store: Store) -> None:
    project = await new_project(store, credit={"free": 1, "paid": 10})
    job = await _running_job(store, project.id)

    results = await asyncio.gather(
        *(store.finish_job(job.id, BILLABLE_DONE) for _ in range(5)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, JobRecord)]
    losers = [r for r in results if not isinstance(r, JobRecord)]
    assert len(winners) == 1, results
    assert len(losers) == 4
    assert all(isinstance(r, IllegalTransition) for r in losers), losers
    assert winners[0].charged_cents == 1
    assert await charge_rows(store, job.id) == [("free", -1)]
    assert await store.balance(project.id) == {"free": 0, "bonus": 0, "paid": 10}


# --- queries -------------------------------------------------------------------------------------


async def test_count_active_and_jobs_in_states(store: Store) -> None:
    project = await new_project(store, credit={"paid": 100})
    other = await new_project(store)
    by_state: dict[JobState, list[str]] = {state: [] for state in JobState}
    for state in [*JobState, JobState.QUEUED, JobState.RUNNING]:
        by_state[state].append((await job_in_state(store, project.id, state)).id)
    steps = await job_in_state(store, project.id, JobState.QUEUED, kind=JobKind.STEPS)
    foreign = await job_in_state(store, other.id, JobState.ASSIGNED)

    assert await store.count_active(project.id, JobKind.RENDER) == 5  # 2 queued, 1 assigned, 2 running
    assert await store.count_active(project.id, JobKind.STEPS) == 1
    assert await store.count_active(project.id, JobKind.AGENT) == 0
    assert await store.count_active(other.id, JobKind.RENDER) == 1

    in_flight = await store.jobs_in_states([JobState.ASSIGNED, JobState.RUNNING])
    # Oldest first: the JobState order above creates assigned before both running jobs.
    expected_order = [*by_state[JobState.ASSIGNED], *by_state[JobState.RUNNING], foreign.id]
    assert [j.id for j in in_flight] == expected_order
    assert all(j.state in (JobState.ASSIGNED, JobState.RUNNING) for j in in_flight)
    created = [j.created_at for j in in_flight]
    assert created == sorted(created)

    queued = await store.jobs_in_states([JobState.QUEUED])
    assert {j.id for j in queued} == {*by_state[JobState.QUEUED], steps.id}
    assert await store.jobs_in_states([]) == []
    assert await store.count_by_state() == {
        "queued": 3,
        "assigned": 2,
        "running": 2,
        "completed": 1,
        "failed": 1,
        "cancelled": 1,
    }


# --- retention -----------------------------------------------------------------------------------


async def test_retention_queries(store: Store) -> None:
    project = await new_project(store, credit={"paid": 100})
    now = datetime.now(UTC)
    old_done = await job_in_state(store, project.id, JobState.COMPLETED, billable=True)
    old_failed = await job_in_state(store, project.id, JobState.FAILED)
    old_cancelled = await job_in_state(store, project.id, JobState.CANCELLED)
    recent_done = await job_in_state(store, project.id, JobState.COMPLETED)
    running = await job_in_state(store, project.id, JobState.RUNNING)
    for job in (old_done, old_failed, old_cancelled):
        await set_job_times(store, job.id, finished_at=now - timedelta(days=3))
    await set_job_times(store, running.id, created_at=now - timedelta(days=400))

    cutoff = now - timedelta(days=1)
    expired = await store.jobs_with_blobs(finished_before=cutoff)
    assert {j.id for j in expired} == {old_done.id, old_failed.id, old_cancelled.id}
    assert all(j.finished_at is not None and j.finished_at < cutoff for j in expired)
    everything = await store.jobs_with_blobs(finished_before=now + timedelta(minutes=5))
    assert {j.id for j in everything} == {old_done.id, old_failed.id, old_cancelled.id, recent_done.id}

    await store.mark_blobs_purged([old_done.id, old_failed.id])
    await store.mark_blobs_purged([])  # no-op
    remaining = await store.jobs_with_blobs(finished_before=cutoff)
    assert [j.id for j in remaining] == [old_cancelled.id]
    purged = await store.get_job(old_done.id)
    untouched = await store.get_job(recent_done.id)
    assert purged is not None and untouched is not None
    assert (purged.blobs_purged, untouched.blobs_purged) == (True, False)

    await set_job_times(store, old_done.id, created_at=now - timedelta(days=366))
    await set_job_times(store, recent_done.id, created_at=now - timedelta(days=364))
    balance_before = await store.balance(project.id)
    deleted = await store.delete_jobs_created_before(now - timedelta(days=365))
    assert set(deleted) == {old_done.id, running.id}
    assert await store.get_job(old_done.id) is None
    assert await store.get_job(running.id) is None
    for kept in (old_failed, old_cancelled, recent_done):
        assert await store.get_job(kept.id) is not None
    assert await store.delete_jobs_created_before(now - timedelta(days=365)) == []
    # Deleting old job records never refunds or loses the charges they made.
    assert await store.balance(project.id) == balance_before == {"free": 0, "bonus": 0, "paid": 99}
    assert await charge_rows(store, old_done.id) == [("paid", -1)]
