"""Retention: blobs go after each job's keep period; job records after ``retention_days``.

A render's blobs (HTML, screenshot, fetches) are kept for the API window (24 h) or, with
``debug``, for the debug window (7 days). Job records are kept for ``retention_days`` (365).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from browserfleet.core.background import Background
from browserfleet.core.jobs import utcnow
from browserfleet.store.blobs import BlobStore
from browserfleet.store.repo import Store

if TYPE_CHECKING:
    from browserfleet.settings import Settings

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


class Purger:
    """Applies the retention policy every ``interval_s`` (the process that owns the jobs), and on
    demand (``browserfleet purge``)."""

    def __init__(self, store: Store, blobs: BlobStore, *, retention: timedelta, interval_s: float) -> None:
        self.store = store
        self.blobs = blobs
        self.retention = retention
        self.interval_s = interval_s
        self._background = Background("purge", self._loop)

    @classmethod
    def from_settings(cls, store: Store, blobs: BlobStore, settings: Settings) -> Purger:
        retention = timedelta(days=settings.retention_days)
        return cls(store, blobs, retention=retention, interval_s=settings.purge_interval_s)

    async def once(self) -> PurgeReport:
        return await purge(self.store, self.blobs, now=utcnow(), retention=self.retention)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def _loop(self) -> None:
        while True:
            try:
                await self.once()
            except Exception:
                log.exception("retention.failed")
            await asyncio.sleep(self.interval_s)
