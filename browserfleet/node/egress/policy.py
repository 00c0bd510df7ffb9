"""Egress policy: which destination addresses a job's browser may reach.

:func:`classify_address` says why an address is not a public internet destination (the
blocked-network table below); :class:`EgressPolicy` decides, per node, which of those are still
permitted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = ["EgressPolicy", "IPAddress", "IPNetwork", "classify_address"]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

_UNSPECIFIED: Final = "unspecified address"
_LOOPBACK: Final = "loopback address"
_LINK_LOCAL: Final = "link-local/metadata address"
_PRIVATE: Final = "private address"
_SHARED: Final = "shared (CGNAT) address"
_MULTICAST: Final = "multicast address"
_RESERVED: Final = "reserved address"


def _rule(cidr: str, reason: str) -> tuple[IPNetwork, str]:
    return ipaddress.ip_network(cidr), reason


# First match wins; order matters where ranges nest (fd00:ec2::254 lies inside fc00::/7).
_V4_RULES: Final[tuple[tuple[IPNetwork, str], ...]] = (
    _rule("0.0.0.0/8", _UNSPECIFIED),
    _rule("127.0.0.0/8", _LOOPBACK),
    _rule("169.254.0.0/16", _LINK_LOCAL),  # includes 169.254.169.254, the cloud metadata service
    _rule("10.0.0.0/8", _PRIVATE),
    _rule("172.16.0.0/12", _PRIVATE),
    _rule("192.168.0.0/16", _PRIVATE),
    _rule("100.64.0.0/10", _SHARED),
    _rule("224.0.0.0/4", _MULTICAST),
    _rule("240.0.0.0/4", _RESERVED),  # includes 255.255.255.255
)
_V6_RULES: Final[tuple[tuple[IPNetwork, str], ...]] = (
    _rule("::/128", _UNSPECIFIED),
    _rule("::1/128", _LOOPBACK),
    _rule("fd00:ec2::254/128", _LINK_LOCAL),  # AWS IMDS over IPv6
    _rule("fe80::/10", _LINK_LOCAL),
    _rule("fec0::/10", _PRIVATE),  # deprecated site-local
    _rule("fc00::/7", _PRIVATE),  # unique local addresses
    _rule("ff00::/8", _MULTICAST),
)
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, IPv4-compatible), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify_address(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public internet destination, or ``None`` when it is public.

    Independent of any policy. IPv6 forms that embed an IPv4 address (``::ffff:a.b.c.d``,
    ``64:ff9b::a.b.c.d``, 6to4) are judged by the embedded address. Anything Python does not
    consider globally routable and that no specific rule names is a ``"reserved address"``.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return classify_address(embedded)
        rules = _V6_RULES
    else:
        rules = _V4_RULES
    for network, reason in rules:
        if ip in network:
            return reason
    if not ip.is_global:
        return _RESERVED
    return None


@dataclass(frozen=True)
class EgressPolicy:
    """Which destinations a job's browser may reach.

    Public addresses are always permitted. Non-public ones (private RFC 1918, loopback,
    link-local incl. cloud metadata, CGNAT, unspecified, multicast, reserved, IPv6 ULA and their
    IPv4-mapped forms; see :func:`classify_address`) are refused unless ``allow_private_networks``
    is set or the address lies in one of the ``allow`` networks.
    """

    allow_private_networks: bool = False
    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_strings(cls, allow_private_networks: bool, allow: Iterable[str]) -> EgressPolicy:
        """Build a policy from CIDR strings (``"10.1.0.0/16"``) or bare IPs (``"127.0.0.1"``).

        Blank entries are skipped; host bits are ignored (``"10.1.2.3/16"`` means ``10.1.0.0/16``).
        Raises :class:`ValueError` naming the first entry that is not an IP network.
        """
        networks: list[IPNetwork] = []
        for entry in allow:
            text = entry.strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError as exc:
                raise ValueError(f"invalid egress allow-list entry {entry!r}: {exc}") from exc
        return cls(allow_private_networks=allow_private_networks, allow=tuple(networks))

    def reason_refused(self, ip: IPAddress) -> str | None:
        """Why this policy refuses ``ip`` (e.g. ``"private address"``), or ``None`` if permitted."""
        reason = classify_address(ip)
        if reason is None or self.allow_private_networks or self._allow_listed(ip):
            return None
        return reason

    def permits(self, ip: IPAddress) -> bool:
        """Whether a connection to ``ip`` is allowed."""
        return self.reason_refused(ip) is None

    def _allow_listed(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(ip)
            if embedded is not None:
                candidates.append(embedded)
        return any(candidate in network for network in self.allow for candidate in candidates)
