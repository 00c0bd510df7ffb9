"""This process's job-event subscribers, the half of ``publish``/``subscribe`` every dispatcher
shares: the in-process one hands its own events here (dispatch/local.py), the Redis one those its
pub/sub connection receives (dispatch/redis/events.py).

Most subscribers wait for one job (a long poll, a session's start): they are filed under its id,
so an event costs a dictionary look-up plus one queue put per subscriber that wants it, however
many other jobs are being waited for. Those that watch every job (a node's cancel relay, the run
hooks) can still narrow what they get to some event kinds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from browserfleet.dispatch.base import JobEvent, Subscription


class Subscribers:
    """Every event handed to :meth:`deliver` reaches each open subscription that wants it, in
    order."""

    def __init__(self) -> None:
        self._everyone: set[_QueueSubscription] = set()  # of every job
        self._by_job: dict[str, set[_QueueSubscription]] = {}

    def subscribe(
        self, job_ids: Iterable[str] | None = None, *, kinds: Iterable[str] | None = None
    ) -> Subscription:
        """See :meth:`browserfleet.dispatch.base.Dispatcher.subscribe`."""
        subscription = _QueueSubscription(
            self,
            None if job_ids is None else frozenset(job_ids),
            None if kinds is None else frozenset(kinds),
        )
        if subscription.job_ids is None:
            self._everyone.add(subscription)
        for job_id in subscription.job_ids or ():
            self._by_job.setdefault(job_id, set()).add(subscription)
        return subscription

    def deliver(self, event: JobEvent) -> None:
        for subscription in self._everyone:
            subscription.offer(event)
        for subscription in self._by_job.get(event.job_id, ()):
            subscription.offer(event)

    def __len__(self) -> int:
        """Open subscriptions."""
        return len(self._everyone) + len({s for waiting in self._by_job.values() for s in waiting})

    def _remove(self, subscription: _QueueSubscription) -> None:
        self._everyone.discard(subscription)
        for job_id in subscription.job_ids or ():
            waiting = self._by_job.get(job_id)
            if waiting is None:
                continue
            waiting.discard(subscription)
            if not waiting:
                del self._by_job[job_id]


class _QueueSubscription(Subscription):
    def __init__(
        self, owner: Subscribers, job_ids: frozenset[str] | None, kinds: frozenset[str] | None
    ) -> None:
        self._owner = owner
        self.job_ids = job_ids
        self.kinds = kinds
        self.queue: asyncio.Queue[JobEvent] = asyncio.Queue()

    def offer(self, event: JobEvent) -> None:
        if self.kinds is None or event.kind in self.kinds:
            self.queue.put_nowait(event)

    async def __aiter__(self) -> AsyncIterator[JobEvent]:
        while True:
            yield await self.queue.get()

    async def close(self) -> None:
        self._owner._remove(self)
