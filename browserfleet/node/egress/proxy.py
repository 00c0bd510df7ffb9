"""The node's egress proxy: :class:`EgressProxy` hands out one :class:`EgressChannel` per job."""

from __future__ import annotations

import asyncio

from browserfleet.node.egress.channel import EgressChannel
from browserfleet.node.egress.hostrules import HostRules
from browserfleet.node.egress.policy import EgressPolicy
from browserfleet.node.egress.upstream import DirectUpstream, Upstream

__all__ = ["EgressProxy"]


class EgressProxy:
    """One per node. Opens a listener per job on 127.0.0.1, port chosen by the OS.

    All channels share the node's :class:`EgressPolicy` and connect timeout (which bounds DNS
    resolution plus connecting, per destination).
    """

    def __init__(self, policy: EgressPolicy, *, connect_timeout: float = 10.0) -> None:
        """``connect_timeout`` bounds resolving and connecting to one destination, in seconds."""
        self.policy = policy
        self.connect_timeout = connect_timeout
        self._channels: set[EgressChannel] = set()
        self._closed = False

    @property
    def open_channels(self) -> int:
        """Channels of jobs opened and not yet closed (not those still waiting for their job)."""
        return sum(1 for channel in self._channels if channel.job_id)

    async def open_channel(
        self, job_id: str, *, upstream: Upstream | None = None, host_rules: HostRules | None = None
    ) -> EgressChannel:
        """Start a new listener for (one browser context of) ``job_id``.

        ``upstream`` is the chaining seam (see :class:`Upstream`); default :class:`DirectUpstream`.
        ``host_rules`` adds name-based refusals checked before DNS (see :class:`HostRules`).
        A job may hold several channels. ``job_id`` empty: a channel opened ahead of its job, bound
        to it later (:meth:`EgressChannel.assign`). Raises :class:`RuntimeError` after :meth:`close`.
        """
        if self._closed:
            raise RuntimeError("EgressProxy is closed")
        channel = EgressChannel(
            job_id,
            policy=self.policy,
            connect_timeout=self.connect_timeout,
            upstream=upstream if upstream is not None else DirectUpstream(),
            on_closed=self._channels.discard,
            host_rules=host_rules,
        )
        await channel._start()
        self._channels.add(channel)
        return channel

    async def close(self) -> None:
        """Close every channel (no new ones can be opened afterwards)."""
        self._closed = True
        channels = list(self._channels)
        if channels:
            await asyncio.gather(*(channel.close() for channel in channels))
