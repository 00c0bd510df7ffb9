"""A host port that leads to a port inside a sandbox: :class:`PortBridge`.

A contained session's browser listens for DevTools on ``127.0.0.1:PORT`` of its own network
namespace. The bridge listens on the host's ``127.0.0.1`` (a port chosen by the OS) and pipes each
connection to the browser's listener through a socket made inside the namespace. So every
host-side client (the node's CDP connections, the CDP proxy, chromedriver's ``debuggerAddress``)
uses ``127.0.0.1:<bridge port>`` as it would the browser's own; the URLs the browser hands out
(``/json/version``) follow the ``Host`` it was asked with, so they are right too.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from browserfleet.node.egress.stats import EgressStats
from browserfleet.node.egress.streams import CHUNK_SIZE, close_stream, set_nodelay
from browserfleet.node.egress.tunnel import splice
from browserfleet.node.sandbox.netns import LOOPBACK, NetNamespace

__all__ = ["PortBridge"]

log = structlog.get_logger(__name__)


class PortBridge:
    """``127.0.0.1:port`` on the host → ``127.0.0.1:target`` in ``netns``."""

    def __init__(self, netns: NetNamespace, target: int) -> None:
        self.netns = netns
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Start accepting; the host port."""
        self._server = await asyncio.start_server(self._on_client, host=LOOPBACK, port=0, limit=CHUNK_SIZE)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop accepting and cut every open pipe."""
        if self._server is not None:
            self._server.close()
        for task in list(self._pipes):
            task.cancel()
        if self._pipes:
            await asyncio.gather(*self._pipes, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(OSError):
                await self._server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None:
            writer.transport.abort()
            return
        self._pipes.add(task)
        try:
            await self._pipe(reader, writer)
        except asyncio.CancelledError:
            pass
        finally:
            self._pipes.discard(task)
            writer.transport.abort()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = await self.netns.connect(self.target)
        except OSError as exc:
            log.warning("sandbox.bridge_refused", target=self.target, error=str(exc))
            return
        up_reader, up_writer = await asyncio.open_connection(sock=sock, limit=CHUNK_SIZE)
        set_nodelay(writer)
        set_nodelay(up_writer)
        try:
            await splice(reader, writer, up_reader, up_writer, EgressStats())
        finally:
            await close_stream(up_writer, abort=True)
