"""Request-rate limits per API key (the Automations family: 30 requests per 10 s).

:class:`RateLimiter` is the contract; :class:`SlidingWindowLimiter` keeps the window in this
process (embedded mode). A distributed deployment implements the same contract on Redis (a sorted
set per key) so every control process shares one window.
"""

from __future__ import annotations

import asyncio
import math
import time
from abc import ABC, abstractmethod
from collections import deque

from browserfleet.core.errors import RateLimited


class RateLimiter(ABC):
    """``hit(key)`` records one request for ``key`` or raises :class:`RateLimited` (429) when the
    key already made ``limit`` requests in the last ``window_s`` seconds (a refused request does
    not count)."""

    limit: int
    window_s: float

    @abstractmethod
    async def hit(self, key: str) -> None: ...


class SlidingWindowLimiter(RateLimiter):
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._hits: dict[str, deque[float]] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str) -> None:
        async with self._lock:
            now = time.monotonic()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) >= self.limit:
                retry = max(1, math.ceil(hits[0] + self.window_s - now))
                raise RateLimited(
                    f"Rate limit of {self.limit} requests per {self.window_s:g} seconds exceeded",
                    limit=self.limit,
                    in_use=len(hits),
                    retry_after_s=retry,
                )
            hits.append(now)
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Drop keys with no request in the window, so the map does not grow with every key seen."""
        if len(self._hits) < 1024:
            return
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s]:
            del self._hits[key]
