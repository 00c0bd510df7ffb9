"""Fan-out: the one transaction that lets exactly one attempt of a race win."""

from __future__ import annotations

from collections.abc import Sequence

from browserfleet.core.jobs import JobState
from browserfleet.store.records import JobOutcome, JobRecord
from browserfleet.store.repo.base import StoreBase, _job
from browserfleet.store.repo.jobs import _finish, _locked_job


class FanoutQueries(StoreBase):
    async def finish_winner(
        self,
        job_id: str,
        attempt: int,
        outcome: JobOutcome,
        siblings: Sequence[str],
        losers: JobOutcome,
    ) -> tuple[JobRecord | None, list[JobRecord]]:
        """Finish ``job_id`` with ``outcome`` and every sibling not yet terminal with ``losers``,
        in one transaction: ``(None, [])`` and nothing changed when ``job_id`` is no longer this
        attempt's to finish (a sibling won first and cancelled it, or it was requeued).

        The rows are locked in id order, so two attempts finishing at once serialize and the
        second sees itself cancelled."""
        cancelled = []
        async with self._write() as session:
            rows = {
                job.id: job for job in [await _locked_job(session, i) for i in sorted({job_id, *siblings})]
            }
            row = rows[job_id]
            if JobState(row.state).terminal or row.attempts != attempt:
                return None, []
            await _finish(session, row, outcome)
            for sibling_id in siblings:
                sibling = rows[sibling_id]
                if sibling_id != job_id and not JobState(sibling.state).terminal:
                    await _finish(session, sibling, losers)
                    cancelled.append(sibling)
        return _job(row), [_job(r) for r in cancelled]
