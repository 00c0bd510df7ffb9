"""Start-up recovery: nothing the store accepted is lost when the server stops or dies.

Jobs left ``assigned``/``running`` by a stopped process go back to ``queued`` (or fail with the
non-billable ``NODE_LOST`` once they have used their attempts); every ``queued`` job is handed to
the dispatcher again, oldest first.
"""

from __future__ import annotations

import structlog

from browserfleet.core.errors import ErrorCode
from browserfleet.core.jobs import JobKind, JobState
from browserfleet.core.lifecycle import finish
from browserfleet.dispatch.base import Dispatcher, Ticket
from browserfleet.store.records import JobOutcome
from browserfleet.store.repo import Store

log = structlog.get_logger(__name__)
RECOVERABLE_KINDS = frozenset({JobKind.RENDER, JobKind.STEPS, JobKind.AGENT})


async def recover(store: Store, dispatcher: Dispatcher, max_attempts: int) -> int:
    """Requeue interrupted jobs and resubmit queued ones; returns how many were submitted."""
    for job in await store.jobs_in_states([JobState.ASSIGNED, JobState.RUNNING]):
        if job.kind not in RECOVERABLE_KINDS or job.attempts >= max_attempts:
            code = ErrorCode.NODE_LOST
            outcome = JobOutcome(JobState.FAILED, error_code=code.value, error_message=code.default_message)
            await finish(store, dispatcher, job.id, outcome)
        else:
            await store.move_job(job.id, JobState.QUEUED, node_id=None)
    queued = await store.jobs_in_states([JobState.QUEUED])
    for job in queued:
        await dispatcher.submit(Ticket(job.id, job.project_id, job.kind, job.route))
    if queued:
        log.info("recovery.resubmitted", jobs=len(queued))
    return len(queued)
