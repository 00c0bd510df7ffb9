"""The reaper of distributed mode: jobs of nodes that are gone run again elsewhere.

Run by the process that owns the jobs (a control plane), every ``interval_s``:

1. Tickets the dispatcher took back from a claimer that stopped renewing them (its process died:
   the visibility timeout, :meth:`Dispatcher.reclaim`). The store decides what happens: a job
   still ``queued`` (the node died between the claim and the start) gets a new ticket; a started
   one is left to step 2.
2. Jobs ``assigned``/``running`` on a node missing from the registry (its heartbeats stopped, or it
   stopped gracefully) are requeued.
3. Jobs ``queued`` for a while are submitted again: a no-op while their ticket waits, a new ticket
   if Redis lost it (restarted without persistence).

Requeueing is :func:`core.recovery.requeue_lost`: fenced by the attempt, so a node presumed dead
that finishes after all changes and charges nothing (never billed twice).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from browserfleet.core.jobs import JobState, utcnow
from browserfleet.core.recovery import requeue_lost
from browserfleet.dispatch.base import Dispatcher, Ticket
from browserfleet.store.repo import Store

log = structlog.get_logger(__name__)


class Reaper:
    def __init__(self, store: Store, dispatcher: Dispatcher, max_attempts: int, interval_s: float) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.max_attempts = max_attempts
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="reaper")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.run_once()
            except Exception:
                log.exception("reaper.failed")

    async def run_once(self) -> int:
        """One pass; returns how many jobs it requeued, resubmitted or failed.

        The store is read before the registry: a node registers before it claims anything, so a
        job's node missing from a registry read *after* the job was read is really gone."""
        handled = 0
        for ticket in await self.dispatcher.reclaim():
            handled += await self._reclaimed(ticket)
        active = await self.store.jobs_in_states([JobState.ASSIGNED, JobState.RUNNING])
        live = {node.node_id for node in await self.dispatcher.registry.nodes()}
        for job in active:
            if job.node_id not in live:
                log.warning("reaper.node_lost", job_id=job.id, node_id=job.node_id, attempt=job.attempts)
                await requeue_lost(self.store, self.dispatcher, job, self.max_attempts)
                handled += 1
        await self._resubmit_waiting()
        return handled

    async def _resubmit_waiting(self) -> None:
        """Queued jobs waiting for a while get their ticket again — a no-op while it waits, and a
        new one if Redis lost it (restarted without persistence)."""
        before = utcnow() - timedelta(seconds=self.interval_s * 3)
        for job in await self.store.jobs_in_states([JobState.QUEUED]):
            if job.updated_at < before:
                await self.dispatcher.submit(Ticket(job.id, job.project_id, job.kind, job.route))

    async def _reclaimed(self, ticket: Ticket) -> int:
        """A still-queued job whose ticket died with its claimer gets a new one; a started job is
        the store scan's to judge (its node may be alive: a ticket of an earlier attempt)."""
        job = await self.store.get_job(ticket.job_id)
        if job is None or job.state is not JobState.QUEUED:
            return 0
        log.info("reaper.resubmitted", job_id=job.id)
        await self.dispatcher.submit(Ticket(job.id, job.project_id, job.kind, job.route))
        return 1
