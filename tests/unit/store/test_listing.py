"""The console's lists: pages and counts by filter, and the metadata narrowing of a session list,
on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from browserfleet.core.accounts import new_id
from browserfleet.core.jobs import JobKind, JobState, Route
from browserfleet.core.sessions.service import metadata_matches
from browserfleet.store.records import JobOutcome
from browserfleet.store.repo import Store
from browserfleet.store.repo.listing import JobFilter


async def _project(store: Store) -> str:
    project = await store.create_project(
        project_id=new_id("prj"), name=new_id("p"), concurrency=5, timeout_s=60, quota=None
    )
    return project.id


async def _job(store: Store, project_id: str, kind: JobKind, spec: dict[str, Any], **finish: Any) -> str:
    job = await store.insert_job(
        job_id=new_id("job"), project_id=project_id, kind=kind, route=Route(), spec=spec
    )
    if finish:
        await store.claim_job(job.id, "n1")
        await store.finish_job(job.id, JobOutcome(**finish))
    return job.id


async def test_pages_are_newest_first_and_counted(store: Store) -> None:
    project = await _project(store)
    ids = [
        await _job(store, project, JobKind.RENDER, {"url": f"https://a.test/{i}"}, state=JobState.COMPLETED)
        for i in range(7)
    ]
    failed = await _job(
        store, project, JobKind.RENDER, {"url": "https://b.test/x_%"}, state=JobState.FAILED, error_code="X"
    )
    await _job(store, await _project(store), JobKind.RENDER, {"url": "https://a.test/other"})
    page = await store.page_jobs(project, JobKind.RENDER, JobFilter(), offset=0, limit=3)
    assert page.total == 8 and [j.id for j in page.jobs] == [failed, ids[6], ids[5]]
    page = await store.page_jobs(project, JobKind.RENDER, JobFilter(), offset=6, limit=3)
    assert [j.id for j in page.jobs] == [ids[1], ids[0]]
    by_url = await store.page_jobs(project, JobKind.RENDER, JobFilter(url="x_%"), offset=0, limit=25)
    assert [j.id for j in by_url.jobs] == [failed]  # % and _ are literal
    by_code = JobFilter(states=(JobState.FAILED,), error_codes_in=("X",))
    assert (await store.page_jobs(project, JobKind.RENDER, by_code, offset=0, limit=25)).total == 1
    not_code = JobFilter(error_codes_not_in=("X",))
    assert (await store.page_jobs(project, JobKind.RENDER, not_code, offset=0, limit=25)).total == 7


async def test_metadata_narrowing_never_drops_a_match(store: Store) -> None:
    project = await _project(store)
    values: list[Any] = ["red", 3, 2.5, True, False, None, {"id": "7"}, "3", "true"]
    for value in values:
        await _job(store, project, JobKind.SESSION, {"user_metadata": {"v": value}})
    for query in ("red", "3", "2.5", "true", "false", "7", "None", "blue"):
        clauses = [(["v"], query)]
        narrowed = JobFilter(metadata=((("v",), query),))
        found = await store.jobs_matching(project, JobKind.SESSION, narrowed, limit=100)
        kept = [j for j in found if metadata_matches(j.spec["user_metadata"], clauses)]
        every = await store.jobs_matching(project, JobKind.SESSION, JobFilter(), limit=100)
        expected = [j for j in every if metadata_matches(j.spec["user_metadata"], clauses)]
        assert [j.id for j in kept] == [j.id for j in expected], query
