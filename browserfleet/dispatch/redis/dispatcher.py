"""The distributed dispatcher: durable ticket queues in Redis streams, claimed by node pull.

- **Queues.** One stream per job kind and route scope (``P:jobs:render:any``,
  ``P:jobs:session:country:DE``, ``P:jobs:render:node:n1``…), each with the consumer group
  ``nodes``. ``submit`` adds an entry (a no-op while the job already waits) and publishes a wake-up.
- **Claim.** A node slot with a free slot runs one script over the streams its labels match (its
  node id, its country, its region, any) and the kinds it runs; the script takes the oldest waiting
  ticket of them into the node's pending list (``XREADGROUP``). Nothing waiting: the slot sleeps
  until a wake-up (or ``POLL_S``); a claim that took the last waiting ticket lets the next slot
  sleep the same way without asking Redis first. Nodes pull; nothing is pushed to a node without a free slot.
- **Visibility timeout.** A claimed ticket stays pending until ``done``; the process that claimed
  it renews it (``XCLAIM`` to itself) every ``ttl_s / 3``. A ticket not renewed for ``ttl_s`` —
  its process died — is taken back by :meth:`reclaim` (``XAUTOCLAIM``) and handed to core, which
  decides from the store whether the job runs again (core/reaper.py).
- **Events** travel over pub/sub (dispatch/redis/events.py); the **registry** is keys with a TTL
  (dispatch/redis/registry.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterable

import structlog

from browserfleet.core.jobs import JobKind, NodeLabels
from browserfleet.dispatch import constants as c
from browserfleet.dispatch.base import Dispatcher, JobEvent, Subscription, Ticket
from browserfleet.dispatch.redis.codec import dump_ticket, load_ticket, node_scopes, route_scope
from browserfleet.dispatch.redis.connection import ERRORS, Backoff, Link, unavailable
from browserfleet.dispatch.redis.events import EventBus
from browserfleet.dispatch.redis.limits import RedisProjectLocks, RedisRateLimiter
from browserfleet.dispatch.redis.registry import RedisRegistry

log = structlog.get_logger(__name__)
_RECLAIM_BATCH = 100


class RedisDispatcher(Dispatcher):
    registry: RedisRegistry

    def __init__(self, url: str, *, prefix: str = c.DEFAULT_PREFIX, ttl_s: float = c.DEFAULT_NODE_TTL_S):
        self.link = Link(url, prefix)
        self.ttl_s = ttl_s
        self.registry = RedisRegistry(self.link, ttl_s)
        self.instance = secrets.token_hex(4)  # consumer names are per process: node-1@3fa2…
        self.events = EventBus(self.link, self._wake_claims)
        self._wakeup = asyncio.Event()
        self._in_flight: dict[str, str] = {}  # receipt ("<stream> <id>") → consumer
        self._keepalive: asyncio.Task[None] | None = None
        self._closed = False
        self._turns: dict[tuple[str, ...], asyncio.Lock] = {}
        self._quiet: dict[tuple[str, ...], asyncio.Event] = {}  # turn → wake-up to wait for first
        self._tickets = self.link.key(c.TICKETS)
        self._streams = self.link.key(c.STREAMS)
        self._seq = self.link.key(c.SEQ)

    # --- life -------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.link.ping()
        await self.events.start()
        self._keepalive = asyncio.create_task(self._keep_alive(), name="redis-keepalive")

    async def close(self) -> None:
        self._closed = True
        if self._keepalive:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        await self.events.close()
        self._wake_claims()
        await self.link.close()

    def project_locks(self, namespace: str | None = None) -> RedisProjectLocks:
        return RedisProjectLocks(self.link, namespace or c.ADMIT)

    def rate_limiter(self, limit: int, window_s: float) -> RedisRateLimiter:
        return RedisRateLimiter(self.link, limit, window_s)

    # --- tickets ----------------------------------------------------------------------------------
    def stream(self, kind: JobKind, scope: str) -> str:
        return self.link.key(c.JOBS, kind.value, scope)

    async def submit(self, ticket: Ticket) -> None:
        stream = self.stream(ticket.kind, route_scope(ticket.route))
        with unavailable("the job queue"):
            await self.link.submit(
                keys=[stream, self._tickets, self._streams, self._seq],
                args=[ticket.job_id, dump_ticket(ticket), c.NODES_GROUP, self.events.wake_channel],
            )

    async def claim(self, labels: NodeLabels, kinds: frozenset[JobKind] | None = None) -> Ticket:
        streams = self._candidates(labels, kinds)
        # the slots of one node and kind set take turns: one asks Redis, the others wait here
        # (a wake-up then costs one script per process, not one per idle slot)
        turn = (labels.node_id, *streams)
        async with self._turns.setdefault(turn, asyncio.Lock()):
            # the previous claim of these slots left nothing waiting: no need to look again
            # before a wake-up (the event was taken before that claim looked, so none is missed)
            if (quiet := self._quiet.pop(turn, None)) is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(c.POLL_S):
                        await quiet.wait()
            return await self._claim(streams, f"{labels.node_id}@{self.instance}", turn)

    async def _claim(self, streams: list[str], consumer: str, turn: tuple[str, ...]) -> Ticket:
        backoff = Backoff()
        while True:
            if self._closed:  # the contract: pending claims end with the dispatcher
                raise asyncio.CancelledError
            woken = self._wakeup  # taken before looking, so a wake-up in between is not missed
            try:
                got = await self.link.claim(keys=[*streams, self._tickets], args=[c.NODES_GROUP, consumer])
            except ERRORS as exc:
                await backoff.wait("claim", exc)
                continue
            backoff.reset()
            if got:
                stream, entry_id, body, more = got
                if not more:
                    self._quiet[turn] = woken
                receipt = f"{stream} {entry_id}"
                self._in_flight[receipt] = consumer
                return load_ticket(body, receipt)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(c.POLL_S):
                    await woken.wait()

    def _candidates(self, labels: NodeLabels, kinds: frozenset[JobKind] | None) -> list[str]:
        chosen = sorted(kinds if kinds is not None else frozenset(JobKind))
        return [self.stream(kind, scope) for kind in chosen for scope in node_scopes(labels)]

    def _wake_claims(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def done(self, ticket: Ticket) -> None:
        if not ticket.receipt:
            return
        self._in_flight.pop(ticket.receipt, None)
        stream, _, entry_id = ticket.receipt.partition(" ")
        try:
            async with self.link.client.pipeline(transaction=True) as pipe:
                pipe.xack(stream, c.NODES_GROUP, entry_id)
                pipe.xdel(stream, entry_id)
                await pipe.execute()
        except ERRORS as exc:  # stays pending: reclaimed after the timeout, the store decides
            log.warning("redis.ack_failed", job_id=ticket.job_id, error=type(exc).__name__)

    async def withdraw(self, job_id: str) -> bool:
        with unavailable("the job queue"):
            return bool(await self.link.withdraw(keys=[self._tickets], args=[job_id]))

    async def queued(self) -> int:
        with unavailable("the job queue"):
            return int(await self.link.client.hlen(self._tickets))

    async def queued_by_kind(self) -> dict[JobKind, int]:
        """From the waiting tickets' streams (``P:jobs:<kind>:<scope>``)."""
        with unavailable("the job queue"):
            places = await self.link.client.hvals(self._tickets)
        counts: dict[JobKind, int] = {}
        prefix = self.link.key(c.JOBS) + ":"
        for place in places:
            kind = str(place).removeprefix(prefix).split(":", 1)[0]
            with contextlib.suppress(ValueError):
                counts[JobKind(kind)] = counts.get(JobKind(kind), 0) + 1
        return counts

    async def reclaim(self) -> list[Ticket]:
        """Take back tickets pending longer than ``ttl_s`` without renewal, and drop them."""
        idle_ms = round(self.ttl_s * 1000)
        found: list[Ticket] = []
        with unavailable("the job queue"):
            for stream in sorted(await self.link.client.smembers(self._streams)):
                found += await self._reclaim_stream(str(stream), idle_ms)
                await self.link.prune_consumers(keys=[stream], args=[c.NODES_GROUP, idle_ms * 10])
        return found

    async def _reclaim_stream(self, stream: str, idle_ms: int) -> list[Ticket]:
        found: list[Ticket] = []
        start = "0-0"
        while True:
            answer = await self.link.client.xautoclaim(
                stream, c.NODES_GROUP, c.REAPER_CONSUMER, idle_ms, start, count=_RECLAIM_BATCH
            )
            start, entries = answer[0], answer[1]
            for entry_id, fields in entries:
                if fields and c.TICKET_FIELD in fields:
                    found.append(load_ticket(fields[c.TICKET_FIELD]))
                async with self.link.client.pipeline(transaction=True) as pipe:
                    pipe.xack(stream, c.NODES_GROUP, entry_id)
                    pipe.xdel(stream, entry_id)
                    await pipe.execute()
            if start == "0-0" or not entries:
                return found

    # --- events -----------------------------------------------------------------------------------
    async def publish(self, event: JobEvent) -> None:
        await self.events.publish(event)

    def subscribe(
        self, job_ids: Iterable[str] | None = None, *, kinds: Iterable[str] | None = None
    ) -> Subscription:
        return self.events.subscribe(job_ids, kinds=kinds)

    # --- keepalive --------------------------------------------------------------------------------
    async def _keep_alive(self) -> None:
        """Renew this process's nodes and claimed tickets well within the TTL."""
        backoff = Backoff()
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self.registry.refresh()
                await self._renew_claims()
                backoff.reset()
            except ERRORS as exc:
                await backoff.wait("keepalive", exc)
            except Exception as exc:  # the registry translated it
                await backoff.wait("keepalive", exc)

    async def _renew_claims(self) -> None:
        if not self._in_flight:
            return
        async with self.link.client.pipeline(transaction=False) as pipe:
            for receipt, consumer in list(self._in_flight.items()):
                stream, _, entry_id = receipt.partition(" ")
                pipe.xclaim(stream, c.NODES_GROUP, consumer, 0, [entry_id], justid=True)
            await pipe.execute()
