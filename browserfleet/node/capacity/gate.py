"""A gate in front of a node's claims: how many jobs of one group it runs, and whether one more fits.

A node pulls work (dispatch/base.py): each group of job kinds has one feeder that waits at its
gate for room before it claims a ticket. The gate lets it through while fewer than ``limit`` jobs of the group
run and ``refusal`` (the node's budget: memory for sessions, CPU for renders…) has no objection;
otherwise the ticket stays queued for a node with room. A job's end releases its place.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

RECHECK_S = 0.25  # a refused gate looks again this often (the budget's figures move by themselves)

Refusal = Callable[[int], str | None]  # running jobs of the group → why not one more (None: go)


class Gate:
    def __init__(self, limit: int, refusal: Refusal | None = None, *, recheck_s: float = RECHECK_S) -> None:
        self.limit = limit
        self.in_use = 0
        self._refusal = refusal
        self._recheck_s = recheck_s
        self._changed = asyncio.Event()

    def reason(self) -> str | None:
        """Why one more job would wait now (None: it would go)."""
        if self.in_use >= self.limit:
            return f"all {self.limit} slots in use"
        return self._refusal(self.in_use) if self._refusal else None

    async def room(self) -> None:
        """Wait until one more job may run (the feeder then claims one and :meth:`take` s it)."""
        while self.reason() is not None:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._recheck_s):
                    await self._changed.wait()

    def take(self) -> None:
        self.in_use += 1

    def release(self) -> None:
        self.in_use -= 1
        self._changed.set()

    def nudge(self) -> None:
        """Look again now (the budget changed)."""
        self._changed.set()
