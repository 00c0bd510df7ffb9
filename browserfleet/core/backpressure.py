"""Backpressure: a full fleet answers at once, with 429 and ``Retry-After``, never a long stall.

* Work that can wait — renders, automation runs, browsing tasks — queues until a node has room,
  bounded fleet-wide by ``maxQueued`` (setting ``max_queued``, else ``MAX_QUEUED_PER_SLOT`` per
  CPU slot of the fleet): past it, :meth:`Backpressure.check_queue` raises 429.
* A live session cannot wait: :meth:`Backpressure.check_sessions` reads the nodes' reports (core/
  load.py, refreshed by each node as soon as its room changes) and raises 429 when no node that
  could run it has room; the session service then still gives a node ``session_queue_wait_s`` to
  take the job before it answers the same 429 (core/sessions/service.py).
* 503 is for a fleet without a node that runs the kind at all.

Every family's error envelope turns :class:`RateLimited` into 429 with ``Retry-After`` (and, for
the SDKs that read it, ``x-should-retry: true``).
"""

from __future__ import annotations

import time
from typing import Final

from browserfleet.core.errors import RateLimited, Unavailable
from browserfleet.core.jobs import Route
from browserfleet.dispatch.base import Dispatcher, NodeInfo

__all__ = ["MAX_QUEUED_PER_SLOT", "Backpressure", "max_queued", "sessions_full"]

MAX_QUEUED_PER_SLOT: Final = 50
QUEUE_RETRY_AFTER_S: Final = 2
SESSION_RETRY_AFTER_S: Final = 1
SLOTS_CACHE_S: Final = 1.0  # the fleet's slots change with its nodes, not with every request


def max_queued(slots: int, setting: int | None) -> int:
    """The fleet's queue bound: the setting, else ``MAX_QUEUED_PER_SLOT`` per CPU slot."""
    return setting if setting is not None else max(1, slots) * MAX_QUEUED_PER_SLOT


def sessions_full(runners: list[NodeInfo] | None = None) -> RateLimited:
    """The 429 of a fleet whose nodes (``runners``, when known) have no room for one more live
    session."""
    loads = [n.load for n in runners or [] if n.load is not None]
    live = sum(load.sessions for load in loads)
    reason = next((load.session_reason for load in loads if load.session_reason), None)
    detail = f" ({reason})" if reason else ""
    return RateLimited(
        f"No browser node has room for another live session now{detail}: retry shortly",
        limit=live,
        in_use=live,
        retry_after_s=SESSION_RETRY_AFTER_S,
    )


class Backpressure:
    def __init__(self, dispatcher: Dispatcher, *, max_queued: int | None = None) -> None:
        self.dispatcher = dispatcher
        self.max_queued_setting = max_queued
        self._slots: tuple[float, int] = (0.0, 0)

    async def check_queue(self) -> None:
        """429 when the fleet's queue already holds ``maxQueued`` tickets."""
        bound = max_queued(await self._fleet_slots(), self.max_queued_setting)
        waiting = await self.dispatcher.queued()
        if waiting >= bound:
            raise RateLimited(
                f"The queue is full ({waiting} waiting, at most {bound}): retry later",
                limit=bound,
                in_use=waiting,
                retry_after_s=QUEUE_RETRY_AFTER_S,
            )

    async def check_sessions(self, route: Route) -> None:
        """503 when no node could ever run a session on ``route``; 429 when none has room now."""
        nodes = [n for n in await self.dispatcher.registry.nodes() if route.matches(n.labels)]
        runners = [n for n in nodes if n.load is None or n.load.runs_sessions]
        if not runners:
            raise Unavailable("No browser node that runs live sessions is up: try again later")
        if any(n.load is None or n.load.session_room > 0 for n in runners):
            return
        raise sessions_full(runners)

    async def _fleet_slots(self) -> int:
        read_at, slots = self._slots
        now = time.monotonic()
        if now - read_at > SLOTS_CACHE_S:
            slots = sum(n.slots for n in await self.dispatcher.registry.nodes())
            self._slots = (now, slots)
        return slots
