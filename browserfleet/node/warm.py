"""Contexts made before their jobs arrive: :class:`WarmContexts`.

Someone driving Playwright themselves pays ``new_context`` + ``new_page`` on every render; a node
can pay it while it waits for work. So each browser of the pool keeps a few *ready* contexts of
one shape (what the maker makes; for renders, node/render.py says which), each with its page
(node/cdp_page.py) still on ``about:blank`` and the egress channel it was opened with, not yet
bound to a job.

- **One job each.** A job takes a ready context (:meth:`WarmContexts.take`), uses it alone, and it
  is closed after that job like a context made on demand: the next job gets another one, made just
  as fresh. Nothing is cleaned and reused, so isolation is that of a new context. When none is
  ready but one is being made that no other job waits for, the job waits for that one (it is
  further along than a context the job would start making now).
- **Bounded per browser.** At most ``per_browser`` per browser, refilled in the background as soon
  as one is taken (while the job that took it waits on its page, the refill has the CPU), at most
  :data:`FILL_AT_ONCE` being made at a time.
- **Discarded when unused.** With no take for ``idle_s`` the browser keeps one and the others are
  closed; the next take fills the set again.
- **Discarded with their browser.** A browser that was recycled or died takes its ready contexts
  with it: they are found and dropped at the next take or fill, their channels closed. A browser
  about to be recycled gets no more than it can still serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from browserfleet.node.cdp_page import CDPPage
from browserfleet.node.egress import EgressChannel
from browserfleet.node.pool import BrowserPool, PooledBrowser, log_failure

__all__ = ["FILL_AT_ONCE", "Ready", "WarmContexts"]

log = structlog.get_logger(__name__)
FILL_AT_ONCE = 2  # contexts being made at the same time (they compete with running jobs for CPU)
_RETRY_S = 1.0  # after a failed make, before the next fill
WAIT_MADE_S = 5.0  # at most this long a job waits for a context under way before making its own


@dataclass(eq=False)
class Ready:
    """One isolated context's page and egress channel, on ``pooled``."""

    pooled: PooledBrowser
    page: CDPPage
    channel: EgressChannel
    made_at: float = field(default_factory=time.monotonic)

    def usable(self, pool: BrowserPool) -> bool:
        """Its browser is still the pool's and alive, and its page is still open."""
        pooled = self.pooled
        current = any(b is pooled for b in pool.browsers)
        return current and pooled.alive and not pooled.retiring and not self.page.gone

    async def discard(self) -> None:
        """Close the context (time-limited) and its channel; it was never a job's."""
        await self.page.close()
        await self.channel.close()


Maker = Callable[[PooledBrowser], Awaitable[Ready]]


class WarmContexts:
    """Keeps up to ``per_browser`` ready contexts from ``make`` on each browser of ``pool``."""

    def __init__(self, pool: BrowserPool, make: Maker, *, per_browser: int, idle_s: float) -> None:
        self.pool = pool
        self.make = make
        self.per_browser = per_browser
        self.idle_s = idle_s
        self._ready: dict[str, list[Ready]] = {}  # browser marker -> ready, oldest first
        self._making: dict[str, int] = {}
        self._under_way = 0  # makes past the FILL_AT_ONCE limit, i.e. really being made
        self._waiting = 0  # takes waiting for one of those (one each)
        self._made = asyncio.Condition()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._discarding: set[asyncio.Task[None]] = set()
        self._last_take = time.monotonic()
        self.taken = 0  # jobs served from a ready context
        self.missed = 0  # jobs that found none and made their own

    @property
    def enabled(self) -> bool:
        return self.per_browser > 0

    def ready_count(self) -> int:
        return sum(len(entries) for entries in self._ready.values())

    def start(self) -> None:
        """Begin filling (idempotent; nothing happens outside a running event loop)."""
        if not self.enabled or self._task is not None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._task = asyncio.create_task(self._run(), name="warm-contexts")
        self.pool.on_replaced(self._wake.set)  # a fresh browser: fill it

    async def take(self) -> Ready | None:
        """A ready context for one job, counted on its browser (:meth:`BrowserPool.lease`), or
        None (the caller makes its own). Wakes the refill either way."""
        if not self.enabled:
            return None
        self.start()
        self._last_take = time.monotonic()
        self._wake.set()
        ready = self._pop()
        if ready is None and self._waiting < self._under_way:
            self._waiting += 1
            try:
                ready = await self._next_made()
            finally:
                self._waiting -= 1
        if ready is None:
            self.missed += 1
        else:
            self.taken += 1
        return ready

    async def _next_made(self) -> Ready | None:
        """The next context made while one is under way (None: none left, or WAIT_MADE_S passed)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WAIT_MADE_S), self._made:
                while self._under_way:
                    await self._made.wait()
                    if (ready := self._pop()) is not None:
                        return ready
        return None

    def _pop(self) -> Ready | None:
        for pooled in sorted(self.pool.browsers, key=lambda b: b.contexts):
            entries = self._ready.get(pooled.marker, [])
            while entries:
                ready = entries.pop()  # the newest
                if ready.usable(self.pool):
                    self.pool.lease(pooled)
                    return ready
                self._discard_later(ready)
        return None

    async def close(self) -> None:
        """Stop filling and close every ready context."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        entries = [ready for group in self._ready.values() for ready in group]
        self._ready.clear()
        await asyncio.gather(
            *(ready.discard() for ready in entries), *self._discarding, return_exceptions=True
        )

    # the background loop: prune, then fill

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            self._prune()
            await self._fill()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(self.idle_s / 2, 0.5)):
                    await self._wake.wait()

    def _target(self) -> int:
        """How many a browser keeps now: all of them while jobs take them, one when idle."""
        idle = time.monotonic() - self._last_take >= self.idle_s
        return min(1, self.per_browser) if idle else self.per_browser

    def _prune(self) -> None:
        """Drop what belongs to a browser that is gone, and what is over the target (oldest first)."""
        live = {b.marker for b in self.pool.browsers}
        target = self._target()
        for marker in list(self._ready):
            entries = self._ready[marker]
            keep = [ready for ready in entries if marker in live and ready.usable(self.pool)]
            stale = [ready for ready in entries if ready not in keep]
            surplus = max(0, len(keep) - target)
            stale += keep[:surplus]
            self._ready[marker] = keep[surplus:]
            for ready in stale:
                self._discard_later(ready)
            if marker not in live:
                del self._ready[marker]

    async def _fill(self) -> None:
        wanted = [b for b in self.pool.browsers for _ in range(self._missing(b))]
        if not wanted:
            return
        limit = asyncio.Semaphore(FILL_AT_ONCE)
        made = await asyncio.gather(
            *(self._make_one(pooled, limit) for pooled in wanted), return_exceptions=True
        )
        failed = [outcome for outcome in made if isinstance(outcome, Exception)]
        if failed:  # e.g. the browser died while making them: the next fill sees a new one
            log.warning("warm.make_failed", count=len(failed), error=str(failed[0]).splitlines()[0][:200])
            await asyncio.sleep(_RETRY_S)

    def _missing(self, pooled: PooledBrowser) -> int:
        if not pooled.alive or pooled.retiring:
            return 0
        have = len(self._ready.get(pooled.marker, ())) + self._making.get(pooled.marker, 0)
        servable = self.pool.recycle_after - pooled.served - have  # it is recycled after that
        return max(0, min(self._target() - have, servable))

    async def _make_one(self, pooled: PooledBrowser, limit: asyncio.Semaphore) -> None:
        marker = pooled.marker
        self._making[marker] = self._making.get(marker, 0) + 1
        ready: Ready | None = None
        try:
            async with limit:
                self._under_way += 1
                try:
                    ready = await self.make(pooled)
                finally:
                    self._under_way -= 1
        finally:
            self._making[marker] -= 1
            if not self._making[marker]:
                del self._making[marker]
            if ready is not None and ready.usable(self.pool):
                self._ready.setdefault(marker, []).append(ready)
            elif ready is not None:
                self._discard_later(ready)
            async with self._made:  # whoever waits for one (take) looks again
                self._made.notify_all()

    def _discard_later(self, ready: Ready) -> None:
        task = asyncio.create_task(ready.discard(), name="warm-discard")
        self._discarding.add(task)
        task.add_done_callback(self._discarding.discard)
        task.add_done_callback(log_failure)
