"""This process's job-event subscribers, the half of ``publish``/``subscribe`` every dispatcher
shares: the in-process one hands its own events here (dispatch/local.py), the Redis one those its
pub/sub connection receives (dispatch/redis/events.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from browserfleet.dispatch.base import JobEvent, Subscription


class Subscribers:
    """Every event handed to :meth:`deliver` reaches each open subscription, in order."""

    def __init__(self) -> None:
        self._open: set[_QueueSubscription] = set()

    def subscribe(self) -> Subscription:
        subscription = _QueueSubscription(self._open)
        self._open.add(subscription)
        return subscription

    def deliver(self, event: JobEvent) -> None:
        for subscription in list(self._open):
            subscription.queue.put_nowait(event)


class _QueueSubscription(Subscription):
    def __init__(self, owner: set[_QueueSubscription]) -> None:
        self._owner = owner
        self.queue: asyncio.Queue[JobEvent] = asyncio.Queue()

    async def __aiter__(self) -> AsyncIterator[JobEvent]:
        while True:
            yield await self.queue.get()

    async def close(self) -> None:
        self._owner.discard(self)
