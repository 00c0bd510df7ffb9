"""Retention: blobs go after each job's keep period; job records after ``retention_days``.

A render's blobs (HTML, screenshot, fetches) are kept for the API window (24 h) or, with
``debug``, for the debug window (7 days). Job records are kept for ``retention_days`` (365).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from browserfleet.store.blobs import BlobStore
from browserfleet.store.repo import Store

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PurgeReport:
    blobs_purged: int
    jobs_deleted: int


async def purge(store: Store, blobs: BlobStore, *, now: datetime, retention: timedelta) -> PurgeReport:
    expired = [
        job
        for job in await store.jobs_with_blobs(finished_before=now)
        if job.finished_at and job.finished_at + timedelta(days=job.keep_blobs_days or 0) < now
    ]
    for job in expired:
        await blobs.delete_job(job.id)
    await store.mark_blobs_purged([job.id for job in expired])
    deleted = await store.delete_jobs_created_before(now - retention)
    for job_id in deleted:
        await blobs.delete_job(job_id)
    if expired or deleted:
        log.info("retention.purged", blobs=len(expired), jobs=len(deleted))
    return PurgeReport(blobs_purged=len(expired), jobs_deleted=len(deleted))
