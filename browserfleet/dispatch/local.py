"""The in-process dispatcher of embedded mode: a list of tickets and a condition variable."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable

from browserfleet.core.jobs import JobKind, NodeLabels, utcnow
from browserfleet.dispatch.base import Dispatcher, JobEvent, NodeInfo, NodeRegistry, Subscription, Ticket
from browserfleet.dispatch.subscribers import Subscribers


class LocalRegistry(NodeRegistry):
    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}

    async def heartbeat(self, info: NodeInfo) -> None:
        info.last_seen = utcnow()
        self._nodes[info.node_id] = info

    async def remove(self, node_id: str) -> None:
        self._nodes.pop(node_id, None)

    async def nodes(self) -> list[NodeInfo]:
        return list(self._nodes.values())


class LocalDispatcher(Dispatcher):
    """FIFO per route match: a node takes the oldest ticket whose route it satisfies."""

    def __init__(self) -> None:
        self.registry = LocalRegistry()
        self._tickets: list[Ticket] = []
        self._changed = asyncio.Condition()
        self._subscribers = Subscribers()

    async def submit(self, ticket: Ticket) -> None:
        async with self._changed:
            if all(t.job_id != ticket.job_id for t in self._tickets):
                self._tickets.append(ticket)
            self._changed.notify_all()

    async def claim(self, labels: NodeLabels, kinds: frozenset[JobKind] | None = None) -> Ticket:
        async with self._changed:
            while True:
                for index, ticket in enumerate(self._tickets):
                    if ticket.route.matches(labels) and (kinds is None or ticket.kind in kinds):
                        return self._tickets.pop(index)
                await self._changed.wait()

    async def withdraw(self, job_id: str) -> bool:
        async with self._changed:
            before = len(self._tickets)
            self._tickets = [t for t in self._tickets if t.job_id != job_id]
            return len(self._tickets) != before

    async def queued(self) -> int:
        return len(self._tickets)

    async def queued_by_kind(self) -> dict[JobKind, int]:
        return dict(Counter(t.kind for t in self._tickets))

    async def publish(self, event: JobEvent) -> None:
        self._subscribers.deliver(event)

    def subscribe(
        self, job_ids: Iterable[str] | None = None, *, kinds: Iterable[str] | None = None
    ) -> Subscription:
        return self._subscribers.subscribe(job_ids, kinds=kinds)
