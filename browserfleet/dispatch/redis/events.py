"""Job events and wake-ups over Redis pub/sub, fanned out to this process's subscribers.

One pub/sub connection per process listens to two channels: ``events`` (JSON job events, handed
to every local :class:`Subscription`: sync waits, SSE, webhooks, a node's release and cancel
relays) and ``wake`` (a ticket was queued: claims waiting in this process look again). A publish
goes through Redis even for local subscribers, so every process sees events in one order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable

import structlog

from browserfleet.dispatch import constants as c
from browserfleet.dispatch.base import JobEvent, Subscription
from browserfleet.dispatch.redis.codec import dump_event, load_event
from browserfleet.dispatch.redis.connection import ERRORS, Backoff, Link, unavailable
from browserfleet.dispatch.subscribers import Subscribers

log = structlog.get_logger(__name__)


class EventBus:
    """``publish``/``subscribe`` of the dispatcher; ``on_wake`` is called for every wake-up (and
    after a reconnect, when wake-ups may have been missed)."""

    def __init__(self, link: Link, on_wake: Callable[[], None]) -> None:
        self.link = link
        self.on_wake = on_wake
        self.subscribers = Subscribers()
        self._events = link.key(c.EVENTS_CHANNEL)
        self._wake = link.key(c.WAKE_CHANNEL)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def wake_channel(self) -> str:
        return self._wake

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="redis-events")
        with unavailable("Redis"):
            async with asyncio.timeout(10):
                await self._subscribed.wait()  # events published from now on reach subscribers

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def publish(self, event: JobEvent) -> None:
        """Best effort: an event lost while Redis is away only makes a waiter fall back to the
        job's state in the store (never a job left half-done because its event failed)."""
        try:
            await self.link.client.publish(self._events, dump_event(event))
        except ERRORS as exc:
            log.warning("redis.publish_failed", job_id=event.job_id, error=type(exc).__name__)

    def subscribe(
        self, job_ids: Iterable[str] | None = None, *, kinds: Iterable[str] | None = None
    ) -> Subscription:
        return self.subscribers.subscribe(job_ids, kinds=kinds)

    async def _listen(self) -> None:
        backoff = Backoff()
        while True:
            pubsub = self.link.pubsub()
            try:
                await pubsub.subscribe(self._events, self._wake)
                self._subscribed.set()
                backoff.reset()
                self.on_wake()  # wake-ups may have been missed while (re)connecting
                async for message in pubsub.listen():
                    self._deliver(message)
            except ERRORS as exc:
                await backoff.wait("events", exc)
            finally:
                with contextlib.suppress(*ERRORS):
                    await pubsub.aclose()

    def _deliver(self, message: dict[str, object]) -> None:
        if message.get("type") != "message":
            return
        if message.get("channel") == self._wake:
            self.on_wake()
            return
        try:
            event = load_event(str(message["data"]))
        except (ValueError, KeyError, TypeError):
            log.warning("redis.bad_event", data=str(message.get("data"))[:200])
            return
        self.subscribers.deliver(event)
