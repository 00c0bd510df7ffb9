"""Admission control: may this project start one more job of this kind right now?

Checks, in order: the fleet's queue has room for work that waits for a node (429 past
``maxQueued``: core/backpressure.py), the balance covers every job in flight plus this one (402),
and the project's concurrency limit (429). Check-and-insert runs under a per-project lock so two
requests cannot both take the last slot; the counts come from the store, which every process
shares. The lock is a :class:`ProjectLocks`: in-process in embedded mode, a Redis lock when
distributed (so the limit holds across every control process).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING

from browserfleet.core.errors import PaymentRequired, RateLimited
from browserfleet.core.jobs import JobKind
from browserfleet.store.records import ProjectRecord
from browserfleet.store.repo import Store

if TYPE_CHECKING:  # core/backpressure.py reads the dispatcher, whose protocols name ProjectLocks
    from browserfleet.core.backpressure import Backpressure

# how a limit message names each job kind (the Renders contract fixes "render")
_NOUNS = {
    JobKind.RENDER: "render",
    JobKind.SESSION: "session",
    JobKind.STEPS: "run",
    JobKind.AGENT: "task",
    JobKind.FETCH: "fetch",
}


class ProjectLocks(ABC):
    """One lock per project id; ``hold`` raises :class:`Unavailable` if it cannot get it in time."""

    @abstractmethod
    def hold(self, project_id: str) -> AbstractAsyncContextManager[None]: ...


class LocalProjectLocks(ProjectLocks):
    """Embedded mode: one process admits, so an asyncio lock per project is enough."""

    def __init__(self) -> None:
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def hold(self, project_id: str) -> AbstractAsyncContextManager[None]:
        return self._locks[project_id]


QUEUED_KINDS = frozenset({JobKind.RENDER, JobKind.STEPS, JobKind.AGENT})  # they wait for a node


class Admission:
    def __init__(
        self, store: Store, locks: ProjectLocks | None = None, backpressure: Backpressure | None = None
    ) -> None:
        self.store = store
        self.locks = locks or LocalProjectLocks()
        self.backpressure = backpressure

    @asynccontextmanager
    async def admit(
        self, project: ProjectRecord, kind: JobKind, *, billable: bool = True
    ) -> AsyncIterator[None]:
        """Hold the project's admission slot while the caller inserts its job."""
        if self.backpressure is not None and kind in QUEUED_KINDS:
            await self.backpressure.check_queue()
        async with self.locks.hold(project.id):
            active, balance_cents = await self.store.admission_counts(project.id, kind)
            if billable and balance_cents <= active:
                raise PaymentRequired("Insufficient balance: add credit to keep rendering")
            if active >= project.concurrency_limit:
                raise RateLimited(
                    f"Concurrent {_NOUNS[kind]} limit reached ({active}/{project.concurrency_limit}). "
                    f"Maximum allowed: {project.concurrency_limit}",
                    limit=project.concurrency_limit,
                    in_use=active,
                )
            yield
