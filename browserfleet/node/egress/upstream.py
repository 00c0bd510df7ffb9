"""The :class:`Upstream` seam: how a channel reaches a destination that passed the egress policy."""

from __future__ import annotations

import abc
import asyncio
from typing import TypeAlias

from browserfleet.node.egress.policy import IPAddress
from browserfleet.node.egress.streams import CHUNK_SIZE, set_nodelay

__all__ = ["DirectUpstream", "Upstream", "UpstreamRefused", "UpstreamStreams"]

UpstreamStreams: TypeAlias = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class UpstreamRefused(OSError):
    """The upstream itself may not be used (e.g. a user-named proxy at an address the egress
    policy refuses); the channel answers ``403 blocked`` and records ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Upstream(abc.ABC):
    """SEAM - how a channel reaches a destination that already passed the egress policy.

    :meth:`connect` is called with the requested ``host`` (as the browser named it), the resolved
    and policy-checked ``ip`` and the ``port``. It returns a byte stream that behaves like a raw
    TCP connection to that destination; the proxy then speaks HTTP or pipes the CONNECT tunnel over
    it. It raises :class:`OSError` when the destination cannot be reached. The caller bounds the
    call with the proxy's connect timeout (cancelling it) and owns and closes the returned writer.

    :class:`DirectUpstream` connects straight to ``ip``;
    :class:`browserfleet.node.proxies.ProxyUpstream` chains through an upstream HTTP (``CONNECT``)
    or SOCKS5 proxy, passed per channel to :meth:`EgressProxy.open_channel`, and decides whether to
    hand the proxy ``host`` or ``ip``. The policy check always runs before this hook.

    ``tries_each_address``: when the destination resolved to several permitted addresses, the
    dialer tries them in turn; an upstream that hands the destination to another proxy sets it
    False and is called once, with the first permitted address.

    ``exhausted``: set once the upstream itself has no way left to reach anything (every exit
    proxy failed), so a failed navigation is the platform's fault, not the destination's.
    """

    tries_each_address: bool = True
    exhausted: bool = False

    def select(self, host: str) -> Upstream:
        """The upstream that carries traffic to ``host``: ``self`` unless this one routes per
        host (:class:`browserfleet.node.proxies.RoutedUpstream`). Called before :meth:`connect`."""
        return self

    @abc.abstractmethod
    async def connect(self, host: str, ip: IPAddress, port: int) -> UpstreamStreams:
        """Open a byte stream to ``ip``:``port`` (``host`` is informational); OSError on failure."""


class DirectUpstream(Upstream):
    """Connect from this node straight to the checked IP address, with TCP_NODELAY."""

    async def connect(self, host: str, ip: IPAddress, port: int) -> UpstreamStreams:
        """Open a TCP connection to ``ip``:``port`` (never re-resolves ``host``)."""
        reader, writer = await asyncio.open_connection(str(ip), port, limit=CHUNK_SIZE)
        set_nodelay(writer)
        return reader, writer
