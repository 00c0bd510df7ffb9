"""Per-channel accounting: byte and request counters and refused attempts."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["BlockedAttempt", "EgressStats"]


@dataclass(frozen=True)
class BlockedAttempt:
    """A destination the policy refused. ``ip`` is the refused resolved address (None if unknown)."""

    host: str
    port: int
    ip: str | None
    reason: str


@dataclass
class EgressStats:
    """Per-channel counters, updated live while the channel runs.

    Byte counts are wire bytes exchanged with destinations (tunnel payload, or plain-HTTP request
    and response bytes including heads): ``bytes_received`` flowed from upstream to the browser,
    ``bytes_sent`` from the browser to upstream. Responses made up by the proxy (403/502/400) are
    not counted. ``requests`` counts plain-HTTP requests answered by an upstream plus CONNECT and
    WebSocket tunnels opened. ``blocked`` keeps the first :data:`MAX_BLOCKED_RECORDED` refused
    attempts; ``blocked_dropped`` counts the ones beyond that. ``upstream_failures`` keeps the last
    error per host (for the first :data:`MAX_BLOCKED_RECORDED` hosts) so a failed navigation can say why.
    """

    bytes_received: int = 0
    bytes_sent: int = 0
    requests: int = 0
    blocked: list[BlockedAttempt] = field(default_factory=list)
    upstream_errors: int = 0
    blocked_dropped: int = 0
    upstream_failures: dict[str, str] = field(default_factory=dict)  # host -> last error (bounded)

    def clear(self) -> None:
        """Every counter back to zero (in place: the channel's connections hold this object)."""
        self.bytes_received = self.bytes_sent = self.requests = 0
        self.upstream_errors = self.blocked_dropped = 0
        self.blocked.clear()
        self.upstream_failures.clear()
