"""Fan-out races: N attempts of one task on N distinct nodes; the first success wins.

A fanned-out task is N jobs whose routes carry ``fanout=N`` (each pinned to its node) and whose
specs list every attempt under ``attempt_ids``. A node ends an attempt it ran with :func:`settle`:

* a completed attempt finishes, and every sibling not yet terminal is cancelled, in **one**
  transaction (store ``finish_winner``), so exactly one attempt completes even when two finish at
  the same moment (the second finds itself already cancelled and changes nothing);
* each cancelled sibling is announced (its state event) and asked to stop with a
  ``JobEvent(kind=CANCEL_EVENT)``: the node running it cancels the executor, which releases its
  browser; a queued sibling's ticket is withdrawn;
* a failed attempt just fails; the task fails when every attempt has ended without a success.

``CANCEL_EVENT`` is how anyone asks the node running a job to stop it (node/worker.py).
"""

from __future__ import annotations

from browserfleet.core.errors import ErrorCode
from browserfleet.core.jobs import JobState
from browserfleet.core.lifecycle import finish
from browserfleet.dispatch.base import Dispatcher, JobEvent
from browserfleet.store.records import JobOutcome, JobRecord
from browserfleet.store.repo import Store

CANCEL_EVENT = "cancel"
LOST = JobOutcome(
    JobState.CANCELLED,
    error_code=ErrorCode.CANCELLED.value,
    error_message="Cancelled: another attempt of the task finished first",
)


def attempt_ids(job: JobRecord) -> list[str]:
    """Every attempt of ``job``'s race (just itself when it is not fanned out)."""
    ids = job.spec.get("attempt_ids")
    return [str(i) for i in ids] if isinstance(ids, list) and ids else [job.id]


async def settle(store: Store, dispatcher: Dispatcher, job: JobRecord, outcome: JobOutcome) -> JobRecord:
    """End the attempt a node ran (``job`` as claimed): a win cancels the siblings."""
    if job.route.fanout <= 1 or outcome.state is not JobState.COMPLETED:
        return await finish(store, dispatcher, job.id, outcome, attempt=job.attempts)
    won, cancelled = await store.finish_winner(job.id, job.attempts, outcome, attempt_ids(job), LOST)
    if won is None:  # a sibling won first (and cancelled this one), or it was requeued
        return await store.get_job(job.id) or job
    await dispatcher.publish(JobEvent(won.id, won.project_id, won.state, record=won))
    for loser in cancelled:
        await dispatcher.withdraw(loser.id)
        await dispatcher.publish(JobEvent(loser.id, loser.project_id, loser.state, record=loser))
        await dispatcher.publish(JobEvent(loser.id, loser.project_id, kind=CANCEL_EVENT))
    return won
