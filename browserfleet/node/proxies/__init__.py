"""Upstream proxy pools: the network exit of a geo-targeted job (see docs/proxies.md).

* ``config`` - :class:`ProxyConfig` (one declared exit), :func:`load_proxies` (settings + YAML);
* ``pool`` - :class:`ProxyPool`: which exit a job uses (place, sticky per project + place,
  ``forceNewProxy``, health and cool-down); it also answers core's "does any exit serve this
  place?" (:meth:`ProxyPool.serves`);
* ``upstream`` - :class:`ProxyUpstream`, the egress :class:`~browserfleet.node.egress.Upstream`
  that chains a job's channel through HTTP CONNECT, HTTPS or SOCKS5 proxies with fail-over;
* ``routing`` - a session's per-``domainPattern`` routing (:class:`RoutedUpstream`), users' own
  proxies (:class:`ExternalUpstream`) and :class:`SessionRouting`, which builds both.
"""

from browserfleet.node.proxies.config import ProxyConfig, ProxyConfigError, load_proxies
from browserfleet.node.proxies.pool import Assignment, ProxyPool
from browserfleet.node.proxies.routing import (
    ExternalUpstream,
    RoutedUpstream,
    SessionEgressPlan,
    SessionRouting,
)
from browserfleet.node.proxies.upstream import DestinationUnreachable, ProxyFailure, ProxyUpstream, open_via

__all__ = [
    "Assignment",
    "DestinationUnreachable",
    "ExternalUpstream",
    "ProxyConfig",
    "ProxyConfigError",
    "ProxyFailure",
    "ProxyPool",
    "ProxyUpstream",
    "RoutedUpstream",
    "SessionEgressPlan",
    "SessionRouting",
    "load_proxies",
    "open_via",
]
