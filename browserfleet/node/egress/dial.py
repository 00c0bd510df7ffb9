"""Reaching a destination for one channel: resolve once, check every address, then connect.

The destination host is resolved exactly once, every resolved address is checked against the
:class:`EgressPolicy`, and the connection goes to a checked IP address - never to the hostname
again - so DNS rebinding cannot slip past the check. A refused destination is never connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Final

from browserfleet.node.egress.hostrules import HostRules
from browserfleet.node.egress.messages import Refusal
from browserfleet.node.egress.policy import EgressPolicy, IPAddress
from browserfleet.node.egress.stats import BlockedAttempt, EgressStats
from browserfleet.node.egress.upstream import Upstream, UpstreamRefused, UpstreamStreams

__all__ = ["MAX_BLOCKED_RECORDED", "Dialer", "ip_literal", "normalize_host"]

logger = logging.getLogger(__name__)

MAX_BLOCKED_RECORDED: Final = 1000
"""At most this many :class:`BlockedAttempt` are kept per channel; later ones are only counted."""


def normalize_host(host: str) -> str:
    """Lower-case, brackets stripped; IP literals in canonical form (``::ffff:a00:1``)."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    literal = ip_literal(host)
    return host if literal is None else str(literal)


def ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


class Dialer:
    """Opens upstream connections for one channel and records refusals and failures in its stats."""

    def __init__(
        self,
        job_id: str,
        stats: EgressStats,
        *,
        policy: EgressPolicy,
        connect_timeout: float,
        upstream: Upstream,
        host_rules: HostRules | None = None,
    ) -> None:
        self.job_id = job_id
        self.stats = stats
        self._policy = policy
        self._connect_timeout = connect_timeout
        self._upstream = upstream
        self._host_rules = host_rules

    async def open_upstream(self, host: str, port: int) -> UpstreamStreams | Refusal:
        """Host rules first (no DNS for a refused name), then resolve once, check every address,
        connect to the first permitted one that answers."""
        host = normalize_host(host)
        if self._host_rules is not None:
            reason = self._host_rules.refusal(host)
            if reason is not None:
                return self._block(host, port, None, reason)
        try:
            async with asyncio.timeout(self._connect_timeout):
                addresses = await self._resolve(host, port)
                permitted = [ip for ip in addresses if self._policy.permits(ip)]
                if not permitted:
                    return self._block(host, port, addresses[0])
                return await self._connect_first(host, permitted, port)
        except UpstreamRefused as exc:
            return self._block(host, port, None, exc.reason)
        except TimeoutError:
            return self.upstream_error(host, port, f"timed out after {self._connect_timeout:g}s")
        except (OSError, ValueError) as exc:  # gaierror, ECONNREFUSED, ...; bad IDNA labels
            return self.upstream_error(host, port, str(exc) or type(exc).__name__)

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        literal = ip_literal(host)
        if literal is not None:
            return [literal]
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses: list[IPAddress] = []
        for family, _, _, _, sockaddr in infos:
            if family in (socket.AF_INET, socket.AF_INET6):
                ip = ipaddress.ip_address(str(sockaddr[0]))
                if ip not in addresses:
                    addresses.append(ip)
        if not addresses:
            raise OSError(f"{host} resolved to no IP address")
        return addresses

    async def _connect_first(self, host: str, addresses: list[IPAddress], port: int) -> UpstreamStreams:
        error: OSError = OSError(f"no address of {host} accepted a connection")
        upstream = self._upstream.select(host)
        for ip in addresses if upstream.tries_each_address else addresses[:1]:
            try:
                return await upstream.connect(host, ip, port)
            except UpstreamRefused:
                raise
            except OSError as exc:
                error = exc
        raise error

    def _block(self, host: str, port: int, ip: IPAddress | None, reason: str | None = None) -> Refusal:
        """Record a refused attempt: by the policy (``ip`` refused) or by ``reason`` (host rules,
        a refused upstream; ``ip`` None when the name was never resolved)."""
        by_policy = reason is None
        if reason is None:
            reason = (self._policy.reason_refused(ip) if ip is not None else None) or "refused by policy"
        shown = None if ip is None else str(ip)
        if len(self.stats.blocked) < MAX_BLOCKED_RECORDED:
            self.stats.blocked.append(BlockedAttempt(host=host, port=port, ip=shown, reason=reason))
        else:
            self.stats.blocked_dropped += 1
        logger.info("egress %s: blocked %s:%s (%s, %s)", self.job_id, host, port, ip, reason)
        where = host if ip is None else f"{host} ({ip})"
        why = "by policy" if by_policy else f"({reason})"
        return Refusal(403, "blocked", f"browserfleet: egress to {where} is blocked {why}")

    def upstream_error(self, host: str, port: int, detail: str) -> Refusal:
        """Count a failure to reach ``host:port`` and make the 502 that reports it."""
        self.stats.upstream_errors += 1
        failures = self.stats.upstream_failures
        if host in failures or len(failures) < MAX_BLOCKED_RECORDED:
            failures[host] = detail
        logger.debug("egress %s: upstream %s:%s failed: %s", self.job_id, host, port, detail)
        return Refusal(502, "upstream-error", f"browserfleet: cannot reach {host}:{port}: {detail}")
