"""The statements on every job's path (store/repo/jobs.py): a node's finish of its attempt, with
its charge, and the figures admission weighs — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from browserfleet.core.errors import IllegalTransition
from browserfleet.core.jobs import JobKind, JobState
from browserfleet.store.records import JobOutcome, JobRecord
from browserfleet.store.repo import Store
from tests.support.stores import charge_rows, job_in_state, new_job, new_project

DONE = JobOutcome(JobState.COMPLETED, result={"blobs": ["html.gz"], "timing": {"totalMs": 12}}, billable=True)


async def _claimed(store: Store, project_id: str) -> JobRecord:
    job = await new_job(store, project_id)
    claimed = await store.claim_job(job.id, "node-a")
    assert claimed is not None and claimed.attempts == 1
    return claimed


async def test_finish_attempt_ends_and_charges_once_as_the_store_reads_it_back(store: Store) -> None:
    project = await new_project(store, credit={"free": 1, "paid": 5})
    job = await _claimed(store, project.id)

    finished = await store.finish_attempt(job.id, DONE, job.attempts)
    assert finished is not None
    assert (finished.state, finished.billable, finished.charged_cents) == (JobState.COMPLETED, True, 1)
    assert finished.result == DONE.result
    assert finished.finished_at is not None and finished.finished_at == finished.updated_at
    assert await store.get_job(job.id) == finished  # the record answered is the row as stored
    assert await charge_rows(store, job.id) == [("free", -1)]
    assert await store.balance(project.id) == {"free": 0, "bonus": 0, "paid": 5}

    # a second finish of the attempt (or one of another attempt) changes and charges nothing
    assert await store.finish_attempt(job.id, DONE, job.attempts) is None
    assert await store.finish_attempt(job.id, DONE, job.attempts + 1) is None
    assert await charge_rows(store, job.id) == [("free", -1)]
    assert await store.get_job(job.id) == finished


async def test_finish_attempt_of_an_empty_balance_records_no_charge(store: Store) -> None:
    project = await new_project(store)
    job = await _claimed(store, project.id)
    finished = await store.finish_attempt(job.id, DONE, job.attempts)
    assert finished is not None and (finished.billable, finished.charged_cents) == (True, 0)
    assert await store.get_job(job.id) == finished
    assert await charge_rows(store, job.id) == []

    failed = JobOutcome(JobState.FAILED, error_code="NAVIGATION_FAILED", error_message="no", billable=False)
    other = await _claimed(store, project.id)
    ended = await store.finish_attempt(other.id, failed, other.attempts)
    assert ended is not None
    assert (ended.state, ended.error_code, ended.error_message) == (
        JobState.FAILED,
        "NAVIGATION_FAILED",
        "no",
    )
    assert (ended.billable, ended.charged_cents) == (False, 0)


async def test_finish_attempt_refuses_what_the_state_machine_forbids(store: Store) -> None:
    project = await new_project(store, credit={"paid": 5})
    with pytest.raises(IllegalTransition, match="does not exist"):
        await store.finish_attempt("job_nope", DONE, 1)

    requeued = await _claimed(store, project.id)
    await store.move_job(requeued.id, JobState.QUEUED, node_id=None)  # its attempt number stays
    with pytest.raises(IllegalTransition, match="from queued to completed"):
        await store.finish_attempt(requeued.id, DONE, requeued.attempts)
    stored = await store.get_job(requeued.id)
    assert stored is not None and stored.state is JobState.QUEUED
    assert await charge_rows(store, requeued.id) == []

    done = await job_in_state(store, project.id, JobState.COMPLETED)
    assert await store.finish_attempt(done.id, DONE, done.attempts) is None  # terminal: a quiet no-op


async def test_concurrent_finishes_of_one_attempt_charge_once(store: Store) -> None:
    project = await new_project(store, credit={"paid": 10})
    job = await _claimed(store, project.id)
    results = await asyncio.gather(*(store.finish_attempt(job.id, DONE, job.attempts) for _ in range(5)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, results
    assert await charge_rows(store, job.id) == [("paid", -1)]
    assert await store.balance(project.id) == {"free": 0, "bonus": 0, "paid": 9}


async def test_admission_counts_are_the_active_jobs_and_the_balance(store: Store) -> None:
    project = await new_project(store, credit={"free": 2, "paid": 7})
    other = await new_project(store, credit={"paid": 100})
    for state in (JobState.QUEUED, JobState.ASSIGNED, JobState.RUNNING, JobState.COMPLETED, JobState.FAILED):
        await job_in_state(store, project.id, state)
    await job_in_state(store, project.id, JobState.RUNNING, kind=JobKind.STEPS)
    await job_in_state(store, other.id, JobState.RUNNING)

    assert await store.admission_counts(project.id, JobKind.RENDER) == (3, 9)
    assert await store.admission_counts(project.id, JobKind.STEPS) == (1, 9)
    assert await store.admission_counts(other.id, JobKind.AGENT) == (0, 100)
    empty = await new_project(store)
    assert await store.admission_counts(empty.id, JobKind.RENDER) == (0, 0)
