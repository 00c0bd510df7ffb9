"""Per-host routing of a session's egress (node/proxies/routing.py) and the create-time checks of
its options (core/sessions/egress.py)."""

from __future__ import annotations

import asyncio
import ipaddress
import re

import pytest

from browserfleet.core.errors import ErrorCode, InvalidRequest, JobFailure
from browserfleet.core.geo import City
from browserfleet.core.sessions.egress import check_session_egress, default_place, parse_proxy_server
from browserfleet.node.egress import (
    DirectUpstream,
    EgressPolicy,
    IPAddress,
    Upstream,
    UpstreamRefused,
    UpstreamStreams,
)
from browserfleet.node.proxies import (
    ExternalUpstream,
    ProxyConfig,
    ProxyPool,
    ProxyUpstream,
    RoutedUpstream,
    SessionRouting,
)
from browserfleet.node.proxies.routing import Route, external_proxy


class Named(Upstream):
    def __init__(self, name: str) -> None:
        self.name = name

    async def connect(self, host: str, ip: IPAddress, port: int) -> UpstreamStreams:
        raise OSError(self.name)


def test_first_matching_rule_wins_and_unmatched_hosts_go_direct() -> None:
    wiki, gov, rest = Named("wiki"), Named("gov"), Named("rest")
    routed = RoutedUpstream(
        [Route(re.compile(r"wikipedia\.org", re.I), wiki), Route(re.compile(r".*\.gov", re.I), gov)]
    )
    assert routed.select("en.wikipedia.org") is wiki  # unanchored search, case-insensitive
    assert routed.select("EN.WIKIPEDIA.ORG") is wiki
    assert routed.select("data.census.gov") is gov
    assert isinstance(routed.select("example.com"), DirectUpstream)
    # a rule without a pattern matches every host, in its place in the order
    catch_all = RoutedUpstream([Route(re.compile("^localhost$"), wiki), Route(None, rest), Route(None, gov)])
    assert catch_all.select("localhost") is wiki
    assert catch_all.select("example.com") is rest


def test_parse_proxy_server() -> None:
    assert parse_proxy_server("proxy.example:3128") == ("http", "proxy.example", 3128)
    assert parse_proxy_server("https://proxy.example") == ("https", "proxy.example", 443)
    assert parse_proxy_server("socks5://[::1]:1080") == ("socks5", "::1", 1080)
    for bad in (
        "ftp://p.example",
        "http://u:p@p.example:1",
        "http://p.example/path",
        "http://:80",
        "http://p:x",
    ):
        with pytest.raises(ValueError):
            parse_proxy_server(bad)


def test_external_proxy_config_carries_credentials_but_never_shows_them() -> None:
    proxy = external_proxy("http://127.0.0.1:3128", "us er", "p@ss:word")
    assert proxy.credentials("") == ("us er", "p@ss:word")
    assert proxy.address == "http://127.0.0.1:3128"
    assert "p@ss" not in repr(proxy) and "p%40ss" not in proxy.label


@pytest.mark.parametrize(
    "server", ["http://10.0.0.1:8080", "http://169.254.169.254", "socks5://[fd00::1]:1080"]
)
async def test_external_proxy_at_a_refused_address_is_never_connected(server: str) -> None:
    upstream = ExternalUpstream(external_proxy(server, None, None), EgressPolicy(), attempt_timeout=1)
    with pytest.raises(UpstreamRefused) as caught:
        await asyncio.wait_for(upstream.connect("example.com", ipaddress.ip_address("93.184.216.34"), 80), 2)
    assert "external proxy" in caught.value.reason and "address" in caught.value.reason


class Serves:
    def __init__(self, *countries: str) -> None:
        self.countries = set(countries)

    def serves(self, city: City) -> bool:
        return city.country in self.countries


def _field(exc: pytest.ExceptionInfo[InvalidRequest]) -> str:
    return str(exc.value.details[0]["field"])


def test_create_time_checks_name_the_field() -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_session_egress([{"type": "browserbase", "geolocation": {"country": "XX"}}])
    assert _field(caught) == "proxies[0].geolocation.country"
    with pytest.raises(InvalidRequest) as caught:
        check_session_egress([{"type": "none"}, {"type": "external", "server": "gopher://x"}])
    assert _field(caught) == "proxies[1].server"
    with pytest.raises(InvalidRequest) as caught:
        check_session_egress(None, ["ok.test", "bad domain"])
    assert _field(caught) == "browserSettings.allowedDomains[1]"
    check_session_egress(
        [{"type": "browserbase", "geolocation": {"country": "de", "city": "Berlin"}}], exits=Serves("DE")
    )


def test_require_geo_proxy_refuses_unserved_places_at_create_time() -> None:
    rule = [{"type": "browserbase", "geolocation": {"country": "FR"}}]
    check_session_egress(rule, exits=Serves("DE"))  # without the setting: allowed, goes direct
    with pytest.raises(InvalidRequest) as caught:
        check_session_egress(rule, exits=Serves("DE"), require_geo_proxy=True)
    assert _field(caught) == "proxies[0].geolocation"
    check_session_egress(
        [{"type": "browserbase", "geolocation": {"country": "DE"}}],
        exits=Serves("DE"),
        require_geo_proxy=True,
    )
    with pytest.raises(InvalidRequest):
        check_session_egress(True, exits=Serves(), require_geo_proxy=True)


@pytest.mark.parametrize(
    ("proxies", "field"),
    [(True, "proxies"), ([{"type": "none"}, {"type": "browserbase"}], "proxies[1]")],
    ids=["proxies-true", "browserbase-rule"],
)
@pytest.mark.parametrize("exits", [None, Serves()], ids=["no-directory", "no-exit-declared"])
def test_without_any_exit_proxy_browserbase_routing_is_refused_unless_direct_is_allowed(
    proxies: object, field: str, exits: Serves | None
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_session_egress(proxies, exits=exits)
    assert _field(caught) == field
    message = caught.value.message
    assert message.startswith(f"{field}: ") and "proxy_file" in message
    assert "session_proxy_direct_fallback" in message
    check_session_egress(proxies, exits=exits, direct_fallback=True)  # the operator allows direct
    check_session_egress(proxies, exits=Serves("FR"))  # an exit somewhere: served, not refused
    check_session_egress([{"type": "none"}, {"type": "external", "server": "p.example:3128"}], exits=exits)


def test_a_node_without_any_exit_fails_a_browserbase_rule_unless_direct_is_allowed() -> None:
    """The node's own check (distributed mode: the API's settings may declare exits it lacks)."""
    strict = SessionRouting(policy=EgressPolicy(), attempt_timeout=1, pool=ProxyPool([]))
    with pytest.raises(JobFailure) as caught:
        strict.plan("prj", True, {})
    assert caught.value.code is ErrorCode.PROXY_UNAVAILABLE
    assert "session_proxy_direct_fallback" in str(caught.value)
    lenient = SessionRouting(policy=EgressPolicy(), attempt_timeout=1, pool=None, direct_fallback=True)
    plan = lenient.plan("prj", [{"type": "browserbase"}], {})
    assert isinstance(plan.upstream, RoutedUpstream)
    assert isinstance(plan.upstream.select("any.host"), DirectUpstream)
    assert plan.routes == [
        {"type": "browserbase", "domainPattern": None, "proxied": False, "country": None, "city": None}
    ]
    assert strict.plan("prj", [{"type": "none"}], {}).routes[0]["proxied"] is False  # no exit needed


def test_proxies_true_prefers_the_node_country_then_any_served_one() -> None:
    place = default_place(Serves("DE", "US"), "US")
    assert place is not None and place.country == "US"
    place = default_place(Serves("DE"), "US")
    assert place is not None and place.country == "DE"
    assert default_place(Serves(), "US") is None


def test_session_routing_plan() -> None:
    declared = ProxyConfig(url="http://u:p@127.0.0.1:9", country="DE", name="de-1")
    routing = SessionRouting(
        policy=EgressPolicy(),
        attempt_timeout=1,
        pool=ProxyPool([declared]),
        node_country="DE",
        ad_hosts=frozenset({"ads.test"}),
    )
    plan = routing.plan("prj", True, {"blockAds": True})
    assert isinstance(plan.upstream, RoutedUpstream)
    assert isinstance(plan.upstream.select("any.host"), ProxyUpstream)
    assert plan.routes[0]["proxy"] == "de-1" and plan.routes[0]["proxied"] is True
    assert plan.host_rules is not None and plan.host_rules.refusal("x.ads.test") == "ad"
    unserved = routing.plan(
        "prj", [{"type": "browserbase", "geolocation": {"country": "FR"}, "domainPattern": "fr$"}], {}
    )
    assert isinstance(unserved.upstream, RoutedUpstream)
    assert isinstance(unserved.upstream.select("site.fr"), DirectUpstream)
    assert unserved.routes == [
        {"type": "browserbase", "domainPattern": "fr$", "proxied": False, "country": "FR", "city": "paris"}
    ]
    assert unserved.host_rules is None
    nothing = routing.plan("prj", None, {})
    assert nothing.upstream is None and nothing.host_rules is None
