"""Start-up recovery: nothing the store accepted is lost when the server stops or dies.

Jobs left ``assigned``/``running`` by a stopped process go back to ``queued`` (or fail with the
non-billable ``NODE_LOST`` once they have used their attempts); every ``queued`` job is handed to
the dispatcher again, oldest first.

Distributed mode narrows the first half to the jobs whose node is gone (``is_lost``): a control
plane restarting must not requeue what live nodes are running, and a node restarting requeues only
what it ran itself before. The reaper (core/reaper.py) applies :func:`requeue_lost` while running.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from browserfleet.core.errors import ErrorCode
from browserfleet.core.jobs import JobKind, JobState
from browserfleet.core.lifecycle import finish
from browserfleet.dispatch.base import Dispatcher, Ticket
from browserfleet.store.records import JobOutcome, JobRecord
from browserfleet.store.repo import Store

log = structlog.get_logger(__name__)
RECOVERABLE_KINDS = frozenset({JobKind.RENDER, JobKind.STEPS, JobKind.AGENT})


async def recover(
    store: Store,
    dispatcher: Dispatcher,
    max_attempts: int,
    *,
    is_lost: Callable[[JobRecord], bool] | None = None,
    resubmit: bool = True,
) -> int:
    """Requeue interrupted jobs (those ``is_lost`` accepts; default all) and, with ``resubmit``,
    resubmit queued ones; returns how many queued jobs were submitted."""
    for job in await store.jobs_in_states([JobState.ASSIGNED, JobState.RUNNING]):
        if is_lost is None or is_lost(job):
            await requeue_lost(store, dispatcher, job, max_attempts, submit=not resubmit)
    if not resubmit:
        return 0
    queued = await store.jobs_in_states([JobState.QUEUED])
    for job in queued:
        await dispatcher.submit(Ticket(job.id, job.project_id, job.kind, job.route))
    if queued:
        log.info("recovery.resubmitted", jobs=len(queued))
    return len(queued)


async def requeue_lost(
    store: Store, dispatcher: Dispatcher, job: JobRecord, max_attempts: int, *, submit: bool = True
) -> None:
    """A job whose node is gone runs again (queued, and with ``submit`` a new ticket) or, when it
    cannot — a live session, or its attempts are used — fails with ``NODE_LOST``. Fenced by the
    attempt: if the node finished it meanwhile, nothing changes."""
    if job.kind not in RECOVERABLE_KINDS or job.attempts >= max_attempts:
        code = ErrorCode.NODE_LOST
        outcome = JobOutcome(JobState.FAILED, error_code=code.value, error_message=code.default_message)
        await finish(store, dispatcher, job.id, outcome, attempt=job.attempts)
        return
    moved = await store.requeue_attempt(job.id, job.attempts)
    if moved is not None:
        log.info("recovery.requeued", job_id=job.id, node_id=job.node_id, attempt=job.attempts)
    if moved is not None and submit:
        await dispatcher.submit(Ticket(job.id, job.project_id, job.kind, job.route))
