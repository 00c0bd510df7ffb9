"""Limits every control process shares: per-project admission locks and per-key request rates.

- :class:`RedisProjectLocks` — ``SET key token NX PX ttl``, released only by its holder (a script
  compares the token); a lock whose process died frees itself after ``ADMIT_LOCK_TTL_MS``. Callers
  of one process first queue on an in-process lock, so only one of them polls Redis. With it,
  core/admission.py's check-then-insert (counts from the shared store) holds fleet-wide.
- :class:`RedisRateLimiter` — a sliding window per key in a sorted set, checked and recorded in one
  script on the Redis clock (core/ratelimit.py's contract).
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from browserfleet.core.admission import ProjectLocks
from browserfleet.core.errors import RateLimited, Unavailable
from browserfleet.core.ratelimit import RateLimiter
from browserfleet.dispatch import constants as c
from browserfleet.dispatch.redis.connection import Link, unavailable

_FIRST_RETRY_S = 0.002
_LONGEST_RETRY_S = 0.05


class RedisProjectLocks(ProjectLocks):
    def __init__(self, link: Link, namespace: str = c.ADMIT, wait_s: float = c.ADMIT_WAIT_S) -> None:
        self.link = link
        self.namespace = namespace
        self.wait_s = wait_s
        # callers of one process queue fairly here; only the head of the queue polls Redis
        self._local: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def hold(self, project_id: str) -> AbstractAsyncContextManager[None]:
        return self._hold(project_id)

    @asynccontextmanager
    async def _hold(self, project_id: str) -> AsyncIterator[None]:
        key = self.link.key(self.namespace, project_id)
        token = secrets.token_hex(8)
        async with self._local[project_id]:
            await self._acquire(key, token)
            try:
                yield
            finally:
                with unavailable("the admission lock"):
                    await self.link.release_lock(keys=[key], args=[token])

    async def _acquire(self, key: str, token: str) -> None:
        deadline = time.monotonic() + self.wait_s
        delay = _FIRST_RETRY_S
        while True:
            with unavailable("the admission lock"):
                if await self.link.client.set(key, token, nx=True, px=c.ADMIT_LOCK_TTL_MS):
                    return
            if time.monotonic() > deadline:
                raise Unavailable("Too many requests for this project at once: try again")
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LONGEST_RETRY_S)


class RedisRateLimiter(RateLimiter):
    def __init__(self, link: Link, limit: int, window_s: float) -> None:
        self.link = link
        self.limit = limit
        self.window_s = window_s

    async def hit(self, key: str) -> None:
        member = f"{time.time_ns()}-{secrets.token_hex(4)}"
        window_ms = max(1, round(self.window_s * 1000))
        with unavailable("the rate limiter"):
            answer = await self.link.rate_hit(
                keys=[self.link.key(c.RATE, key)], args=[self.limit, window_ms, member]
            )
        allowed, count = int(answer[0]), int(answer[1])
        if allowed:
            return
        retry = max(1, math.ceil(int(answer[2]) / 1000))
        raise RateLimited(
            f"Rate limit of {self.limit} requests per {self.window_s:g} seconds exceeded",
            limit=self.limit,
            in_use=count,
            retry_after_s=retry,
        )
