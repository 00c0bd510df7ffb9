"""The node registry in Redis: one key per live node, refreshed by heartbeats, gone after a TTL.

``P:node:<id>`` holds the node's :class:`NodeInfo` as JSON and expires ``ttl_s`` after the last
heartbeat; ``P:nodes`` remembers which ids to look up (ids whose key expired are pruned when
listed). Nodes of this process are refreshed by :meth:`refresh` between their own heartbeats, so
a live node never lapses; a node that died stops refreshing and disappears within ``ttl_s``.
"""

from __future__ import annotations

import structlog

from browserfleet.core.errors import Unavailable
from browserfleet.core.jobs import utcnow
from browserfleet.dispatch import constants as c
from browserfleet.dispatch.base import NodeInfo, NodeRegistry
from browserfleet.dispatch.redis.codec import dump_node, load_node
from browserfleet.dispatch.redis.connection import ERRORS, Link, unavailable

log = structlog.get_logger(__name__)


class RedisRegistry(NodeRegistry):
    def __init__(self, link: Link, ttl_s: float) -> None:
        self.link = link
        self.ttl_ms = max(1, round(ttl_s * 1000))
        self.local: dict[str, NodeInfo] = {}  # nodes of this process: refreshed by the keepalive

    def _key(self, node_id: str) -> str:
        return self.link.key(c.NODE, node_id)

    async def heartbeat(self, info: NodeInfo) -> None:
        """Never raises: a heartbeat Redis missed is sent again by the keepalive (``refresh``)."""
        self.local[info.node_id] = info
        try:
            await self._write(info)
        except Unavailable as exc:
            log.warning("registry.heartbeat_failed", node_id=info.node_id, error=exc.message)

    async def refresh(self) -> None:
        """Re-announce this process's nodes (called well within the TTL)."""
        for info in list(self.local.values()):
            await self._write(info)

    async def _write(self, info: NodeInfo) -> None:
        info.last_seen = utcnow()
        with unavailable("the node registry"):
            async with self.link.client.pipeline(transaction=True) as pipe:
                pipe.set(self._key(info.node_id), dump_node(info), px=self.ttl_ms)
                pipe.sadd(self.link.key(c.NODES), info.node_id)
                await pipe.execute()

    async def remove(self, node_id: str) -> None:
        """A node leaving; if Redis cannot be told, its key expires after the TTL anyway."""
        self.local.pop(node_id, None)
        try:
            async with self.link.client.pipeline(transaction=True) as pipe:
                pipe.delete(self._key(node_id))
                pipe.srem(self.link.key(c.NODES), node_id)
                await pipe.execute()
        except ERRORS as exc:
            log.warning("registry.remove_failed", node_id=node_id, error=type(exc).__name__)

    async def nodes(self) -> list[NodeInfo]:
        with unavailable("the node registry"):
            ids = sorted(str(i) for i in await self.link.client.smembers(self.link.key(c.NODES)))
            if not ids:
                return []
            values = await self.link.client.mget([self._key(i) for i in ids])
            gone = [node_id for node_id, value in zip(ids, values, strict=True) if value is None]
            if gone:
                await self.link.client.srem(self.link.key(c.NODES), *gone)
        return [load_node(str(v)) for v in values if v is not None]
