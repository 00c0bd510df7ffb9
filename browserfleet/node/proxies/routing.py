"""Per-host routing of a session's egress: :class:`RoutedUpstream`, :class:`ExternalUpstream` and
:class:`SessionRouting`, which turns a session's ``proxies`` and ``browserSettings`` into the
upstream and host rules of its egress channel.

Everything happens in the channel (node/egress/), so every client - Playwright, Puppeteer,
Selenium - is covered and proxy credentials never reach the browser.

Rules, in the order the client listed them (see core/sessions/egress.py for the evidence):

* ``domainPattern`` is a regex searched (unanchored, case-insensitive) in the destination host;
  a rule without one matches every host. The first matching rule carries the connection; a host
  no rule matches goes out directly (Browserbase: "excluding [a catch-all rule] will not use a
  proxy on any other domains").
* ``browserbase`` → the node's exit pool for the place (:class:`ProxyUpstream`, sticky per
  project + place, fail-over); no exit for the place → direct, recorded as ``proxied: false``;
  no exit on this node at all → the session fails (``PROXY_UNAVAILABLE``) unless
  ``session_proxy_direct_fallback`` lets it go direct too (the API refused it already when its own
  settings have no exit: core/sessions/egress.py).
* ``external`` → the user's own HTTP/HTTPS/SOCKS5 proxy (:class:`ExternalUpstream`). Its address
  is resolved and checked against the node's egress policy on every connect (and connected to
  by the checked IP), so naming ``10.0.0.1`` or ``169.254.169.254`` as a proxy gets the channel's
  ``403 blocked``, never a connection.
* ``none`` → :class:`DirectUpstream`.

The destination itself is always resolved and checked by the channel first, whatever the route.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from browserfleet.core.errors import ErrorCode, JobFailure
from browserfleet.core.exits import ExitDirectory
from browserfleet.core.geo import City
from browserfleet.core.sessions.egress import (
    NO_EXIT,
    any_exit,
    compile_domain_pattern,
    default_place,
    parse_proxy_server,
    rule_place,
)
from browserfleet.node.egress import (
    DirectUpstream,
    EgressPolicy,
    EgressProxy,
    HostRules,
    IPAddress,
    Upstream,
    UpstreamRefused,
    UpstreamStreams,
)
from browserfleet.node.egress.hostrules import load_ad_hosts
from browserfleet.node.proxies.config import ProxyConfig
from browserfleet.node.proxies.pool import Assignment, ProxyPool
from browserfleet.node.proxies.upstream import ProxyUpstream, open_via

if TYPE_CHECKING:
    from browserfleet.settings import Settings

__all__ = ["ExternalUpstream", "Route", "RoutedUpstream", "SessionEgressPlan", "SessionRouting"]


@dataclass(frozen=True)
class Route:
    """One rule: hosts matching ``pattern`` (None: every host) go through ``upstream``."""

    pattern: re.Pattern[str] | None
    upstream: Upstream
    info: dict[str, Any] = field(default_factory=dict)

    def matches(self, host: str) -> bool:
        return self.pattern is None or self.pattern.search(host) is not None


class RoutedUpstream(Upstream):
    """Ordered :class:`Route` list; the first that matches a host carries it, else ``default``."""

    def __init__(self, routes: Sequence[Route], default: Upstream | None = None) -> None:
        self.routes = tuple(routes)
        self.default = default if default is not None else DirectUpstream()

    def select(self, host: str) -> Upstream:
        for route in self.routes:
            if route.matches(host):
                return route.upstream.select(host)
        return self.default

    async def connect(self, host: str, ip: IPAddress, port: int) -> UpstreamStreams:
        return await self.select(host).connect(host, ip, port)

    def describe(self) -> list[dict[str, Any]]:
        """Per rule what carries it (never a URL with credentials)."""
        out = []
        for route in self.routes:
            info = dict(route.info)
            if isinstance(route.upstream, ProxyUpstream):
                info.update(proxied=True, **route.upstream.describe(), failovers=route.upstream.failovers)
            out.append(info)
        return out


def external_proxy(server: str, username: str | None, password: str | None) -> ProxyConfig:
    """A :class:`ProxyConfig` for a user's proxy (ValueError for a bad ``server``)."""
    scheme, host, port = parse_proxy_server(server)
    auth = ""
    if username is not None:
        secret = f":{quote(password, safe='')}" if password is not None else ""
        auth = f"{quote(username, safe='')}{secret}@"
    shown = f"[{host}]" if ":" in host else host
    # not validated as a declared exit: no country, no catalogue place
    return ProxyConfig.model_construct(
        url=f"{scheme}://{auth}{shown}:{port}",
        country="",
        city=None,
        sticky=None,
        name=f"external {scheme}://{shown}:{port}",
        remote_dns=True,
        ca_file=None,
    )


class ExternalUpstream(Upstream):
    """Chains through a user-named proxy after checking the proxy's own address (see module)."""

    tries_each_address = False  # the proxy is handed the hostname

    def __init__(self, proxy: ProxyConfig, policy: EgressPolicy, *, attempt_timeout: float) -> None:
        self.proxy = proxy
        self.policy = policy
        self.attempt_timeout = attempt_timeout

    async def _proxy_address(self) -> str:
        host = self.proxy.host
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(host)]
        except ValueError:
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(host, self.proxy.port, type=socket.SOCK_STREAM)
            addresses = [ipaddress.ip_address(str(info[4][0])) for info in infos]
        for ip in addresses:
            if self.policy.permits(ip):
                return str(ip)
        reason = self.policy.reason_refused(addresses[0]) if addresses else "no address"
        raise UpstreamRefused(f"external proxy {self.proxy.address}: {reason}")

    async def connect(self, host: str, ip: IPAddress, port: int) -> UpstreamStreams:
        proxy_ip = await self._proxy_address()
        async with asyncio.timeout(self.attempt_timeout):
            return await open_via(Assignment(self.proxy, ""), host, port, proxy_ip=proxy_ip)


@dataclass(frozen=True)
class SessionEgressPlan:
    """What a session's channel is opened with, and what its result records (``egress``)."""

    upstream: Upstream | None
    host_rules: HostRules | None
    routes: list[dict[str, Any]]


class SessionRouting:
    """Builds a session's :class:`SessionEgressPlan`; one per node (holds the pool and ad list)."""

    def __init__(
        self,
        *,
        policy: EgressPolicy,
        attempt_timeout: float,
        pool: ProxyPool | None = None,
        node_country: str | None = None,
        ad_hosts: frozenset[str] = frozenset(),
        direct_fallback: bool = False,
    ) -> None:
        self.policy = policy
        self.attempt_timeout = attempt_timeout
        self.pool = pool
        self.node_country = node_country
        self.ad_hosts = ad_hosts
        self.direct_fallback = direct_fallback  # browserbase rules without any exit: direct

    @classmethod
    def from_settings(cls, settings: Settings, egress: EgressProxy, pool: ProxyPool) -> SessionRouting:
        return cls(
            policy=egress.policy,
            attempt_timeout=egress.connect_timeout / 2,
            pool=pool,
            node_country=settings.node_country,
            ad_hosts=load_ad_hosts(settings.ad_block_hosts_file),
            direct_fallback=settings.session_proxy_direct_fallback,
        )

    def plan(self, project_id: str, proxies: Any, browser_settings: dict[str, Any]) -> SessionEgressPlan:
        rules = HostRules.build(
            allowed_domains=browser_settings.get("allowedDomains") or (),
            block_ads=bool(browser_settings.get("blockAds")),
            ad_hosts=self.ad_hosts,
        )
        if proxies is True:
            proxies = [{"type": "browserbase"}]
        if not isinstance(proxies, list) or not proxies:
            return SessionEgressPlan(None, rules, [])
        routes = [self._route(project_id, i, rule) for i, rule in enumerate(proxies)]
        upstream = RoutedUpstream(routes)
        return SessionEgressPlan(upstream, rules, upstream.describe())

    def _route(self, project_id: str, index: int, rule: dict[str, Any]) -> Route:
        pattern_text = rule.get("domainPattern")
        pattern = compile_domain_pattern(pattern_text) if pattern_text is not None else None
        info: dict[str, Any] = {"type": rule.get("type"), "domainPattern": pattern_text, "proxied": False}
        upstream: Upstream = DirectUpstream()
        if rule.get("type") == "external":
            proxy = external_proxy(str(rule["server"]), rule.get("username"), rule.get("password"))
            upstream = ExternalUpstream(proxy, self.policy, attempt_timeout=self.attempt_timeout)
            info.update(proxied=True, proxy=proxy.address)
        elif rule.get("type") == "browserbase":
            exits: ExitDirectory | None = self.pool
            if not self.direct_fallback and not any_exit(exits):
                raise JobFailure(ErrorCode.PROXY_UNAVAILABLE, f"proxies[{index}]: {NO_EXIT}")
            place: City | None = rule_place(rule, f"proxies[{index}]")
            place = place or default_place(exits, self.node_country)
            chosen = None
            if place is not None and self.pool is not None:
                chosen = ProxyUpstream.for_job(
                    self.pool, project_id, place, force_new=False, attempt_timeout=self.attempt_timeout
                )
            if chosen is not None:
                upstream = chosen
            else:
                info.update(country=place.country if place else None, city=place.name if place else None)
        return Route(pattern, upstream, info)
