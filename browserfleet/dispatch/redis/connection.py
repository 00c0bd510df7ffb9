"""The Redis connection of one process, and the translation of Redis errors into core's.

Everything that talks to Redis goes through a :class:`Link`: one connection pool (plus the
dedicated pub/sub connection of dispatch/redis/events.py), the key prefix, and the scripts
registered once. A Redis that cannot be reached becomes :class:`Unavailable` (503) for callers
that wait on an answer; background loops log and retry (:func:`backoff`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from browserfleet.core.errors import Unavailable
from browserfleet.dispatch import constants as c
from browserfleet.dispatch.redis import scripts

log = structlog.get_logger(__name__)
ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)


class Link:
    """A process's way to Redis: ``client`` (decoded strings), ``key(...)`` and the scripts."""

    def __init__(self, url: str, prefix: str = c.DEFAULT_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        # callers beyond the pool's size wait for a connection (up to POOL_WAIT_S) rather than fail
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=c.POOL_SIZE,
            timeout=c.POOL_WAIT_S,
            decode_responses=True,
            socket_keepalive=True,
            health_check_interval=30,
        )
        self.client: aioredis.Redis = aioredis.Redis(connection_pool=pool)
        self.submit: AsyncScript = self.client.register_script(scripts.SUBMIT)
        self.claim: AsyncScript = self.client.register_script(scripts.CLAIM)
        self.withdraw: AsyncScript = self.client.register_script(scripts.WITHDRAW)
        self.release_lock: AsyncScript = self.client.register_script(scripts.RELEASE_LOCK)
        self.rate_hit: AsyncScript = self.client.register_script(scripts.RATE_HIT)
        self.prune_consumers: AsyncScript = self.client.register_script(scripts.PRUNE_CONSUMERS)

    def key(self, *parts: str) -> str:
        return c.join(self.prefix, *parts)

    def pubsub(self) -> Any:
        return self.client.pubsub(ignore_subscribe_messages=True)

    async def ping(self) -> None:
        with unavailable("Redis"):
            await self.client.ping()

    async def close(self) -> None:
        with contextlib.suppress(*ERRORS):
            await self.client.aclose()
            await self.client.connection_pool.disconnect()


@contextlib.contextmanager
def unavailable(what: str) -> Iterator[None]:
    """Redis errors → :class:`Unavailable` (the API answers 503 and the client may retry)."""
    try:
        yield
    except ERRORS as exc:
        raise Unavailable(f"{what} is unavailable: {type(exc).__name__}") from exc


class Backoff:
    """Delays between reconnect attempts of a background loop: 0.5 s doubling up to 5 s."""

    def __init__(self) -> None:
        self.delay = c.RECONNECT_S

    async def wait(self, where: str, exc: BaseException) -> None:
        log.warning("redis.retry", where=where, error=f"{type(exc).__name__}: {exc}"[:200], delay=self.delay)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, 5.0)

    def reset(self) -> None:
        self.delay = c.RECONNECT_S
