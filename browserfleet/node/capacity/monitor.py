"""Keeps a node's budget current, and protects the machine when memory runs out.

Every ``tick_s`` it reads the machine's CPU use; every ``sample_s`` the PSS of the browsers (in a
thread: reading ``/proc`` blocks). A PSS round costs ~25 ms of CPU with two pooled browsers, so it
comes every 30 s: it only sizes a session's cost and the budget, while the floor is guarded by the
machine's available memory, read every tick.

When memory falls below half the floor it ends the newest idle live session (no client
connected), else the newest live session, one at a time and at most one every ``SHED_EVERY_S`` so
the memory freed shows before the next (node/session/live.py, ``MEMORY_PRESSURE``): a few sessions
end, not the whole server under the kernel's OOM killer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from browserfleet.node.capacity.budget import NodeBudget
from browserfleet.node.capacity.memory import BrowserMemory
from browserfleet.node.session.live import LiveSessions

log = structlog.get_logger(__name__)
TICK_S = 1.0
SAMPLE_S = 30.0
SHED_EVERY_S = 2.0


class CapacityMonitor:
    def __init__(
        self,
        budget: NodeBudget,
        live: LiveSessions,
        *,
        tick_s: float = TICK_S,
        sample_s: float = SAMPLE_S,
        memory: BrowserMemory | None = None,
    ) -> None:
        self.budget = budget
        self.live = live
        self.tick_s = tick_s
        self.sample_s = sample_s
        self.memory = memory or BrowserMemory()
        self.on_change: list[Callable[[], None]] = []  # e.g. gates looking again
        self._task: asyncio.Task[None] | None = None
        self._sampling: asyncio.Task[None] | None = None
        self._next_sample = 0.0
        self._next_shed = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="capacity-monitor")

    async def stop(self) -> None:
        for task in (self._task, self._sampling):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._sampling = None

    async def sample_now(self) -> None:
        """Read the browsers' PSS now (also what the loop does every ``sample_s``)."""
        pids = self.live.pids()
        self.budget.memory_sample = await asyncio.to_thread(self.memory.sample, pids)

    async def _run(self) -> None:
        while True:
            self.budget.machine.sample_cpu()
            now = time.monotonic()
            if now >= self._next_sample and (self._sampling is None or self._sampling.done()):
                self._next_sample = now + self.sample_s
                self._sampling = asyncio.create_task(self._sample(), name="capacity-sample")
            if now >= self._next_shed and self.budget.critical():
                self._next_shed = now + SHED_EVERY_S
                self._shed()
            for hook in self.on_change:
                hook()
            await asyncio.sleep(self.tick_s)

    async def _sample(self) -> None:
        try:
            await self.sample_now()
        except Exception:  # a reading that failed keeps the previous one
            log.exception("capacity.sample_failed")

    def _shed(self) -> None:
        ended = self.live.shed_newest()
        memory = self.budget.machine.memory()
        if ended is not None:
            log.warning(
                "capacity.session_shed",
                session_id=ended,
                available_mb=memory.available >> 20,
                floor_mb=self.budget.floor >> 20,
            )
