"""Admission control: may this project start one more job of this kind right now?

Checks, in order: the balance covers every job in flight plus this one (402), and the project's
concurrency limit (429). Check-and-insert runs under a per-project lock so two requests cannot
both take the last slot. This is the in-process implementation of embedded mode; a distributed
deployment replaces the lock with a Redis-side counter.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from browserfleet.core.billing import balance
from browserfleet.core.errors import PaymentRequired, RateLimited
from browserfleet.core.jobs import JobKind
from browserfleet.store.records import ProjectRecord
from browserfleet.store.repo import Store

# how a limit message names each job kind (the Renders contract fixes "render")
_NOUNS = {
    JobKind.RENDER: "render",
    JobKind.SESSION: "session",
    JobKind.STEPS: "run",
    JobKind.AGENT: "task",
    JobKind.FETCH: "fetch",
}


class Admission:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    @asynccontextmanager
    async def admit(
        self, project: ProjectRecord, kind: JobKind, *, billable: bool = True
    ) -> AsyncIterator[None]:
        """Hold the project's admission slot while the caller inserts its job."""
        async with self._locks[project.id]:
            active = await self.store.count_active(project.id, kind)
            if billable and (await balance(self.store, project.id)).total <= active:
                raise PaymentRequired("Insufficient balance: add credit to keep rendering")
            if active >= project.concurrency_limit:
                raise RateLimited(
                    f"Concurrent {_NOUNS[kind]} limit reached ({active}/{project.concurrency_limit}). "
                    f"Maximum allowed: {project.concurrency_limit}",
                    limit=project.concurrency_limit,
                    in_use=active,
                )
            yield
