"""One job's proxy listener: :class:`EgressChannel`."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from browserfleet.node.egress.dial import Dialer, normalize_host
from browserfleet.node.egress.hostrules import HostRules
from browserfleet.node.egress.policy import EgressPolicy
from browserfleet.node.egress.session import ClientSession
from browserfleet.node.egress.stats import BlockedAttempt, EgressStats
from browserfleet.node.egress.streams import CHUNK_SIZE, set_nodelay
from browserfleet.node.egress.upstream import Upstream

__all__ = ["EgressChannel"]

logger = logging.getLogger(__name__)


class EgressChannel:
    """One job's proxy listener on ``127.0.0.1`` (port chosen by the OS), made by :class:`EgressProxy`.

    ``server_url`` is what to hand to ``browser.new_context(proxy={"server": ...})``. ``stats`` is
    updated live. :meth:`close` stops the listener and drops every open connection of the channel.
    A channel opened ahead of its job (``job_id`` empty: a warm render context's, node/warm.py) is
    bound to it with :meth:`assign`.
    """

    job_id: str
    server_url: str
    stats: EgressStats

    def __init__(
        self,
        job_id: str,
        *,
        policy: EgressPolicy,
        connect_timeout: float,
        upstream: Upstream,
        on_closed: Callable[[EgressChannel], None],
        host_rules: HostRules | None = None,
    ) -> None:
        """Internal: use :meth:`EgressProxy.open_channel`."""
        self.job_id = job_id
        self.server_url = ""
        self.stats = EgressStats()
        self.upstream = upstream
        self.host_rules = host_rules
        self._dialer = Dialer(
            job_id,
            self.stats,
            policy=policy,
            connect_timeout=connect_timeout,
            upstream=upstream,
            host_rules=host_rules,
        )
        self._on_closed = on_closed
        self._server: asyncio.Server | None = None
        self._more_servers: list[asyncio.Server] = []  # listeners in browsers' sandboxes
        self._sessions: set[asyncio.Task[None]] = set()
        self._closing = False
        self._close_task: asyncio.Task[None] | None = None
        self._port = 0

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, host="127.0.0.1", port=0, limit=CHUNK_SIZE)
        self._port = int(self._server.sockets[0].getsockname()[1])
        self.server_url = f"http://127.0.0.1:{self._port}"

    async def serve_socket(self, sock: socket.socket) -> None:
        """Serve this channel on one more listening socket too: the one a contained browser's
        sandbox has on the channel's port (node/sandbox/netns.py). Closed with the channel."""
        if self._closing:
            sock.close()
            raise RuntimeError("the egress channel is closed")
        server = await asyncio.start_server(self._on_client, sock=sock, limit=CHUNK_SIZE)
        self._more_servers.append(server)

    @property
    def port(self) -> int:
        """The listener's TCP port on 127.0.0.1."""
        return self._port

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closing

    @property
    def open_connections(self) -> int:
        """Browser-side connections currently being served."""
        return len(self._sessions)

    def assign(self, job_id: str) -> None:
        """Bind a channel opened ahead of its job to ``job_id``, with its counters from zero."""
        self.job_id = self._dialer.job_id = job_id
        self.stats.clear()

    def blocked_host(self, host: str) -> BlockedAttempt | None:
        """The most recent recorded refused attempt for ``host`` (name or IP, ``[v6]`` ok), if any."""
        wanted = normalize_host(host)
        for attempt in reversed(self.stats.blocked):
            if attempt.host == wanted:
                return attempt
        return None

    async def close(self) -> None:
        """Stop listening and cancel every open connection; idempotent, returns once all are gone."""
        if self._close_task is None:
            self._closing = True
            self._close_task = asyncio.create_task(self._shutdown())
        await asyncio.shield(self._close_task)

    async def _shutdown(self) -> None:
        try:
            for server in [self._server, *self._more_servers]:
                if server is not None:
                    server.close()
            sessions = list(self._sessions)
            for task in sessions:
                task.cancel()
            if sessions:
                await asyncio.gather(*sessions, return_exceptions=True)
            for server in [self._server, *self._more_servers]:
                if server is not None:
                    await server.wait_closed()
        finally:
            self._on_closed(self)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self._closing or task is None:
            writer.transport.abort()
            return
        set_nodelay(writer)
        self._sessions.add(task)
        try:
            await ClientSession(self._dialer, reader, writer).run()
        except asyncio.CancelledError:
            pass  # channel closing; the session aborted its sockets on the way out
        except Exception:
            logger.exception("egress %s: proxy connection failed", self.job_id)
        finally:
            self._sessions.discard(task)
            if not writer.transport.is_closing():  # interrupted before the session closed it
                writer.transport.abort()
