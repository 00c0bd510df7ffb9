"""Admission control (core/admission.py) under concurrency, on a real SQLite store.

Each admission does what ``Renders.create`` does (core/renders/service.py): hold ``Admission.admit`` while
inserting the job. Twenty of them race; the limits must hold exactly.
"""

from __future__ import annotations

import asyncio

import pytest

from browserfleet.core.accounts import new_id
from browserfleet.core.admission import Admission
from browserfleet.core.errors import ErrorCode, PaymentRequired, RateLimited
from browserfleet.core.jobs import JobKind, JobState, Route
from browserfleet.store.records import JobOutcome, JobRecord, ProjectRecord
from browserfleet.store.repo import Store
from tests.support.stores import new_project

ATTEMPTS = 20


async def _create(admission: Admission, project: ProjectRecord, *, billable: bool = True) -> JobRecord:
    async with admission.admit(project, JobKind.RENDER, billable=billable):
        await asyncio.sleep(0)  # let the other requests run while this one holds its slot
        return await admission.store.insert_job(
            job_id=new_id("ren"),
            project_id=project.id,
            kind=JobKind.RENDER,
            route=Route(),
            spec={"url": "http://127.0.0.1/"},
        )


async def _race(admission: Admission, project: ProjectRecord) -> tuple[list[JobRecord], list[BaseException]]:
    results = await asyncio.gather(
        *(_create(admission, project) for _ in range(ATTEMPTS)), return_exceptions=True
    )
    admitted = [r for r in results if isinstance(r, JobRecord)]
    refused = [r for r in results if isinstance(r, BaseException)]
    return admitted, refused


async def _finish(store: Store, job: JobRecord, outcome: JobOutcome) -> None:
    await store.move_job(job.id, JobState.ASSIGNED, node_id="n", attempts=1)
    await store.move_job(job.id, JobState.RUNNING)
    await store.finish_job(job.id, outcome)


async def test_concurrency_limit_admits_exactly_the_limit(store: Store) -> None:
    project = await new_project(store, concurrency=5, credit={"paid": 1000})
    admission = Admission(store)

    admitted, refused = await _race(admission, project)

    assert len(admitted) == 5
    assert len(refused) == ATTEMPTS - 5
    assert all(isinstance(e, RateLimited) for e in refused), refused
    for error in refused:
        assert isinstance(error, RateLimited)
        assert "Concurrent render limit reached (5/5)" in error.message
        assert "Maximum allowed: 5" in error.message
        assert (error.limit, error.in_use, error.status) == (5, 5, 429)
    assert await store.count_active(project.id, JobKind.RENDER) == 5
    assert {j.id for j in await store.jobs_in_states([JobState.QUEUED])} == {j.id for j in admitted}

    # A finished render frees its slot: exactly one more gets in.
    await _finish(store, admitted[0], JobOutcome(JobState.COMPLETED, result={}, billable=True))
    admitted_again, refused_again = await _race(admission, project)
    assert len(admitted_again) == 1
    assert len(refused_again) == ATTEMPTS - 1
    assert await store.count_active(project.id, JobKind.RENDER) == 5


async def test_balance_admits_one_render_per_cent(store: Store) -> None:
    project = await new_project(store, concurrency=10, credit={"free": 1, "paid": 2})
    admission = Admission(store)

    admitted, refused = await _race(admission, project)

    assert len(admitted) == 3
    assert len(refused) == ATTEMPTS - 3
    for error in refused:
        assert isinstance(error, PaymentRequired), error
        assert error.status == 402
        assert error.message == "Insufficient balance: add credit to keep rendering"
    assert await store.count_active(project.id, JobKind.RENDER) == 3

    # Renders in flight reserve a cent each: a charged render leaves 2 cents for 2 in flight.
    await _finish(store, admitted[0], JobOutcome(JobState.COMPLETED, result={}, billable=True))
    assert sum((await store.balance(project.id)).values()) == 2
    with pytest.raises(PaymentRequired):
        await _create(admission, project)
    # A failure that is not billable releases its reserved cent.
    code = ErrorCode.BROWSER_CRASHED
    await _finish(
        store, admitted[1], JobOutcome(JobState.FAILED, error_code=code.value, billable=code.billable)
    )
    assert sum((await store.balance(project.id)).values()) == 2
    again, refused_again = await _race(admission, project)
    assert len(again) == 1
    assert all(isinstance(e, PaymentRequired) for e in refused_again)

    # Work that is not billable is admitted without balance (the concurrency limit still holds).
    free = await _create(admission, project, billable=False)
    assert free.state is JobState.QUEUED


async def test_projects_do_not_share_limits(store: Store) -> None:
    busy = await new_project(store, concurrency=2, credit={"paid": 100})
    idle = await new_project(store, concurrency=2, credit={"paid": 100})
    admission = Admission(store)
    busy_admitted, _ = await _race(admission, busy)
    idle_admitted, _ = await _race(admission, idle)
    assert (len(busy_admitted), len(idle_admitted)) == (2, 2)
    assert {j.project_id for j in busy_admitted} == {busy.id}
