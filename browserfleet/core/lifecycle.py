"""Ending a job and waiting for one: the two halves every family shares.

:func:`finish` writes a terminal state (charging it when billable, in the store's transaction) and
publishes the event that wakes whoever waits; :func:`wait_for` is how they wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Set as AbstractSet

from browserfleet.core.errors import IllegalTransition
from browserfleet.core.jobs import JobState, utcnow
from browserfleet.dispatch.base import Dispatcher, JobEvent, Subscription
from browserfleet.store.records import JobOutcome, JobRecord
from browserfleet.store.repo import Store


async def finish(
    store: Store, dispatcher: Dispatcher, job_id: str, outcome: JobOutcome, *, attempt: int | None = None
) -> JobRecord:
    """Move a job to its terminal ``outcome`` and announce it.

    With ``attempt`` (a node ending the attempt it ran) a finish that comes too late — the job
    already ended, or was requeued and another attempt owns it — changes and charges nothing and
    announces nothing; the job as it stands is returned. Without it, a terminal job raises
    IllegalTransition."""
    if attempt is None:
        finished = await store.finish_job(job_id, outcome)
    else:
        fenced = await store.finish_attempt(job_id, outcome, attempt)
        if fenced is None:
            current = await store.get_job(job_id)
            if current is None:
                raise IllegalTransition(f"job {job_id} does not exist")
            return current
        finished = fenced
    await dispatcher.publish(JobEvent(finished.id, finished.project_id, finished.state, record=finished))
    return finished


async def wait_for(
    subscription: Subscription, job_id: str, timeout_s: float, *, event_kind: str | None = None
) -> bool:
    """Wait up to ``timeout_s`` for ``job_id`` to reach a terminal state (or, with ``event_kind``,
    for an event of that kind); True if it was seen. Subscribe *before* checking the job's state,
    so an event published in between is not missed."""
    return await wait_for_any(subscription, {job_id}, timeout_s, event_kind=event_kind)


async def wait_for_any(
    subscription: Subscription, job_ids: AbstractSet[str], timeout_s: float, *, event_kind: str | None = None
) -> bool:
    """:func:`wait_for` one of ``job_ids`` (the attempts of a fanned-out task)."""
    return await wait_for_event(subscription, job_ids, timeout_s, event_kind=event_kind) is not None


async def wait_for_event(
    subscription: Subscription, job_ids: AbstractSet[str], timeout_s: float, *, event_kind: str | None = None
) -> JobEvent | None:
    """:func:`wait_for_any`, answering the event seen (its ``record`` spares the waiter a read of
    the store when the job ended in this process), or None after ``timeout_s``."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            async for event in subscription:
                if event.job_id not in job_ids:
                    continue
                if (event_kind and event.kind == event_kind) or (event.state and event.state.terminal):
                    return event
    return None


def finished_record(event: JobEvent | None) -> JobRecord | None:
    """The finished job an event carries (published in this process by :func:`finish`), if any."""
    record = event.record if event is not None else None
    return record if isinstance(record, JobRecord) and record.state.terminal else None


async def mark_running(store: Store, dispatcher: Dispatcher, job_id: str) -> bool:
    """``assigned → running`` for an executor that prepared its job (a staged claim) and announce
    it; False, and nothing changed, when the job is no longer assigned (cancelled meanwhile)."""
    try:
        job = await store.move_job(job_id, JobState.RUNNING, started_at=utcnow())
    except IllegalTransition:
        return False
    await dispatcher.publish(JobEvent(job.id, job.project_id, job.state, record=job))
    return True
