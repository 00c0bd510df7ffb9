"""Jobs of gone nodes (core/reaper.py, core/recovery.py) and the fenced finish that keeps a node
presumed dead from finishing — or charging — a job that already runs elsewhere."""

from __future__ import annotations

import asyncio

from browserfleet.core.jobs import JobKind, JobState, NodeLabels
from browserfleet.core.lifecycle import finish
from browserfleet.core.reaper import Reaper
from browserfleet.core.recovery import recover
from browserfleet.dispatch.base import NodeInfo, Ticket
from browserfleet.dispatch.local import LocalDispatcher
from browserfleet.store.records import JobOutcome
from browserfleet.store.repo import Store
from tests.support.stores import charge_rows, new_job, new_project

DONE = JobOutcome(JobState.COMPLETED, result={"ok": True}, billable=True)


async def _running_on(store: Store, project_id: str, node_id: str, *, kind: JobKind = JobKind.RENDER) -> str:
    job = await new_job(store, project_id, kind=kind)
    assert await store.claim_job(job.id, node_id) is not None
    return job.id


async def test_reaper_requeues_jobs_of_gone_nodes_only(store: Store) -> None:
    project = await new_project(store, credit={"paid": 10})
    dispatcher = LocalDispatcher()
    await dispatcher.registry.heartbeat(NodeInfo(labels=NodeLabels("alive"), slots=1))
    lost = await _running_on(store, project.id, "gone")
    kept = await _running_on(store, project.id, "alive")
    session = await _running_on(store, project.id, "gone", kind=JobKind.SESSION)

    assert await Reaper(store, dispatcher, max_attempts=2, interval_s=1).run_once() == 2

    requeued, untouched, failed = [await store.get_job(i) for i in (lost, kept, session)]
    assert requeued is not None and (requeued.state, requeued.node_id) == (JobState.QUEUED, None)
    assert untouched is not None and untouched.state is JobState.RUNNING
    assert failed is not None and (failed.state, failed.error_code) == (JobState.FAILED, "NODE_LOST")
    assert failed.charged_cents == 0
    ticket = await asyncio.wait_for(dispatcher.claim(NodeLabels("alive")), 1)
    assert ticket.job_id == lost


async def test_a_late_finish_of_a_presumed_dead_node_is_a_no_op(store: Store) -> None:
    project = await new_project(store, credit={"paid": 10})
    dispatcher = LocalDispatcher()
    job_id = await _running_on(store, project.id, "slow")
    await Reaper(store, dispatcher, max_attempts=2, interval_s=1).run_once()
    again = await store.claim_job(job_id, "other")
    assert again is not None and again.attempts == 2

    stale = await finish(store, dispatcher, job_id, DONE, attempt=1)  # the first node, too late
    assert (stale.state, stale.node_id, stale.charged_cents) == (JobState.RUNNING, "other", 0)
    done = await finish(store, dispatcher, job_id, DONE, attempt=2)
    assert (done.state, done.charged_cents) == (JobState.COMPLETED, 1)
    twice = await finish(store, dispatcher, job_id, DONE, attempt=2)  # a second finish
    assert (twice.state, twice.charged_cents) == (JobState.COMPLETED, 1)
    assert await charge_rows(store, job_id) == [("paid", -1)]


async def test_recovery_of_a_control_plane_spares_live_nodes(store: Store) -> None:
    project = await new_project(store)
    dispatcher = LocalDispatcher()
    on_live = await _running_on(store, project.id, "alive")
    on_gone = await _running_on(store, project.id, "gone")
    waiting = (await new_job(store, project.id)).id

    submitted = await recover(store, dispatcher, 2, is_lost=lambda job: job.node_id != "alive")

    assert submitted == 2  # the requeued job and the one that was waiting
    states = {i: (await store.get_job(i)).state for i in (on_live, on_gone, waiting)}  # type: ignore[union-attr]
    assert states == {on_live: JobState.RUNNING, on_gone: JobState.QUEUED, waiting: JobState.QUEUED}
    claimed = [await asyncio.wait_for(dispatcher.claim(NodeLabels("n")), 1) for _ in range(2)]
    assert {t.job_id for t in claimed} == {on_gone, waiting}
    assert all(isinstance(t, Ticket) for t in claimed)
