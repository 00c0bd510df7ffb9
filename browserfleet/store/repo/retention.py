"""Retention: which jobs keep blobs, and deleting what is past its time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update

from browserfleet.core.jobs import JobState
from browserfleet.store.models import JobRow
from browserfleet.store.records import JobRecord
from browserfleet.store.repo.base import StoreBase, _job


class RetentionQueries(StoreBase):
    async def jobs_with_blobs(self, finished_before: datetime) -> list[JobRecord]:
        query = select(JobRow).where(
            JobRow.blobs_purged.is_(False),
            JobRow.state.in_([JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED]),
            JobRow.finished_at < finished_before,
        )
        async with self._read() as session:
            return [_job(r) for r in await session.scalars(query)]

    async def mark_blobs_purged(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        async with self._write() as session:
            await session.execute(update(JobRow).where(JobRow.id.in_(job_ids)).values(blobs_purged=True))

    async def delete_jobs_created_before(self, cutoff: datetime) -> list[str]:
        async with self._write() as session:
            ids = list(await session.scalars(select(JobRow.id).where(JobRow.created_at < cutoff)))
            if ids:
                await session.execute(delete(JobRow).where(JobRow.id.in_(ids)))
        return ids
