"""Ending a job and waiting for it (core/lifecycle.py), and the render wait that uses both: a
render finished in this process is answered from its finish event, not read back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from browserfleet.core.admission import Admission
from browserfleet.core.jobs import JobState
from browserfleet.core.lifecycle import finish, finished_record, wait_for_event
from browserfleet.core.renders import RenderPolicy, Renders
from browserfleet.core.renders.spec import RenderSpec
from browserfleet.dispatch.base import JobEvent
from browserfleet.dispatch.local import LocalDispatcher
from browserfleet.store.blobs import FileBlobStore
from browserfleet.store.recent_blobs import RecentBlobs
from browserfleet.store.records import JobOutcome
from browserfleet.store.repo import Store
from tests.support.stores import new_job, new_project

DONE = JobOutcome(JobState.COMPLETED, result={"blobs": ["html.gz"], "loadStrategy": "default"}, billable=True)


async def test_the_finish_event_carries_the_job_as_the_store_has_it(store: Store) -> None:
    dispatcher = LocalDispatcher()
    project = await new_project(store, credit={"paid": 2})
    job = await new_job(store, project.id)
    claimed = await store.claim_job(job.id, "node-a")
    assert claimed is not None
    subscription = dispatcher.subscribe([job.id])
    try:
        waiting = asyncio.ensure_future(wait_for_event(subscription, {job.id}, 5))
        finished = await finish(store, dispatcher, job.id, DONE, attempt=claimed.attempts)
        event = await waiting
    finally:
        await subscription.close()
    assert event is not None and event.state is JobState.COMPLETED
    assert finished_record(event) == finished == await store.get_job(job.id)
    assert finished.charged_cents == 1
    # an event without a record (one that crossed processes), or of a job not ended: none
    assert finished_record(JobEvent(job.id, project.id, JobState.COMPLETED)) is None
    assert finished_record(JobEvent(job.id, project.id, JobState.RUNNING, record=claimed)) is None
    assert finished_record(None) is None


async def test_a_render_finished_here_is_answered_from_its_event(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatcher = LocalDispatcher()
    blobs = RecentBlobs(FileBlobStore(tmp_path / "blobs"))
    renders = Renders(store, blobs, dispatcher, Admission(store), RenderPolicy())
    project = await new_project(store, credit={"paid": 5})
    job = await renders.create(project, RenderSpec(url="http://127.0.0.1/page"))

    reads: list[str] = []
    looked = asyncio.Event()
    read_job = store.get_job

    async def counted(job_id: str) -> object:
        reads.append(job_id)
        found = await read_job(job_id)
        looked.set()
        return found

    monkeypatch.setattr(store, "get_job", counted)
    waiting = asyncio.ensure_future(renders.wait(project, job.id, 5))
    await looked.wait()  # the wait has looked at the render once (queued): now it waits
    claimed = await store.claim_job(job.id, "node-a")
    assert claimed is not None
    await blobs.put(job.id, "html.gz", b"\x1f\x8b html")
    await finish(store, dispatcher, job.id, DONE, attempt=claimed.attempts)
    view = await waiting

    assert reads == [job.id]  # the finished job came with its event: no second read
    assert view == await renders.get(project, job.id)  # what a fresh read answers, blob included
    assert view.html_gz == b"\x1f\x8b html" and view.job.state is JobState.COMPLETED
