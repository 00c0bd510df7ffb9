"""Geo-targeting through upstream proxies, end to end: browser7 SDK → server → Chromium → egress
channel → stand-in upstream proxy (tests/support/upstream_proxy.py) → the local test site.

Stand-ins on 127.0.0.1: two HTTP proxies for DE and one for US/new.york (all requiring Basic
auth), and a SOCKS5 proxy for GB with a sticky-session username template. Every test marks its
page URL with a fresh token, so "the DE proxy carried this render" is read from what the stand-in
saw inside its tunnel, and "the site saw it" from the site's own echo of the request.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser7 import Browser7, ValidationError, wait_for_selector

from tests.support.fleet import FleetHarness, RunningServer
from tests.support.render_client import Rendered, element, render_one, wait_render
from tests.support.upstream_proxy import HttpProxyStandIn, Socks5StandIn, _StandIn

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("renders-geo-proxies")]

GEO_WAIT = [wait_for_selector("#geo-done", "attached", timeout=10000)]
SESSION_USER = r"gb-session-[0-9a-f]{16}"


class StandIns:
    def __init__(self) -> None:
        self.de_a = HttpProxyStandIn(username="de", password="pw-de-a").start()
        self.de_b = HttpProxyStandIn(username="de", password="pw-de-b").start()
        self.us = HttpProxyStandIn(username="us", password="pw-us").start()
        self.gb = Socks5StandIn(username="gb", password="pw-gb", user_pattern=SESSION_USER).start()
        self.by_name: dict[str, _StandIn] = {
            "de-a": self.de_a,
            "de-b": self.de_b,
            "us-ny": self.us,
            "gb-socks": self.gb,
        }

    def declarations(self) -> list[dict[str, str]]:
        return [
            {"url": self.de_a.url, "country": "DE", "name": "de-a"},
            {"url": self.de_b.url, "country": "DE", "name": "de-b"},
            {"url": self.us.url, "country": "US", "city": "new.york", "name": "us-ny"},
            {"url": self.gb.url, "country": "GB", "sticky": "{user}-session-{session}", "name": "gb-socks"},
        ]

    def carriers(self, token: str) -> list[str]:
        """Names of the stand-ins that carried a request whose target contains ``token``."""
        return [name for name, proxy in self.by_name.items() if any(token in r for r in proxy.requests)]

    def close(self) -> None:
        for proxy in self.by_name.values():
            proxy.close()


@pytest.fixture(scope="module")
def proxies() -> Iterator[StandIns]:
    stand_ins = StandIns()
    yield stand_ins
    stand_ins.close()


@pytest.fixture(scope="module")
def rserver(harness: FleetHarness, proxies: StandIns) -> Iterator[RunningServer]:
    """A server with the stand-in proxies as its geo exits."""
    running = harness.server(proxies=proxies.declarations())
    yield running
    harness.stop_server(running)


def token() -> str:
    return uuid.uuid4().hex


def site_authority(site_url: str) -> str:
    return httpx.URL(site_url).netloc.decode()


def text_of(html: str, element_id: str) -> str:
    found = element(html, element_id)
    assert found is not None, f"#{element_id} missing from the rendered html"
    return found.text


def echoed(rendered: Rendered) -> dict[str, Any]:
    """The test site's ``/api/echo`` JSON as the browser displayed it."""
    match = re.search(r"<pre[^>]*>(.*?)</pre>", rendered.html, re.S)
    assert match, rendered.html[:500]
    body: dict[str, Any] = json.loads(html_lib.unescape(match.group(1)))
    return body


def exit_of(rendered: Rendered) -> dict[str, Any]:
    geo_exit: dict[str, Any] = rendered.wire["geoExit"]
    return geo_exit


# ------------------------------------------------------------------------------------ exits


def test_country_de_goes_out_through_a_de_proxy(client: Browser7, proxies: StandIns, site_url: str) -> None:
    mark = token()
    rendered = render_one(client, f"{site_url}/geo?t={mark}", country_code="DE", wait_for=GEO_WAIT)

    geo_exit = exit_of(rendered)
    assert geo_exit["proxied"] is True and geo_exit["country"] == "DE" and geo_exit["city"] is None
    assert geo_exit["proxy"] in ("de-a", "de-b") and geo_exit["failovers"] == 0
    assert proxies.carriers(mark) == [geo_exit["proxy"]]  # that proxy, and only it, carried the page
    assert f"{site_authority(site_url)}" in proxies.by_name[geo_exit["proxy"]].connects
    # the page saw Germany: timezone and language of the country's default city
    assert rendered.result.selected_city is not None
    assert rendered.result.selected_city["name"] == "berlin"
    assert text_of(rendered.html, "tz") == "Europe/Berlin"
    assert text_of(rendered.html, "lang") == "de-DE"
    assert text_of(rendered.html, "langs").split(",")[0] == "de-DE"
    assert element(rendered.html, "geo-error") is None


def test_us_new_york_through_the_us_proxy_with_the_sdk_render(
    client: Browser7, proxies: StandIns, site_url: str
) -> None:
    mark = token()
    result = client.render(f"{site_url}/headers?t={mark}", city="new.york")  # the SDK's own polling
    assert result.status == "completed" and result.html is not None
    assert result.selected_city is not None and result.selected_city["timezoneId"] == "America/New_York"
    assert text_of(result.html, "accept-language").startswith("en-US")
    assert proxies.carriers(mark) == ["us-ny"]
    assert proxies.us.users and set(proxies.us.users) == {"us"}


def test_site_sees_the_forwarded_request_and_the_browser_never_sees_credentials(
    client: Browser7, proxies: StandIns, site_url: str
) -> None:
    mark = token()
    rendered = render_one(client, f"{site_url}/api/echo?t={mark}", country_code="DE")
    echo = echoed(rendered)
    assert echo["path"] == "/api/echo" and echo["query"] == {"t": mark}  # the site got it, via the proxy
    carrier = exit_of(rendered)["proxy"]
    assert proxies.carriers(mark) == [carrier]
    # the stand-ins answer 407 without Basic auth: the chain sent it, the browser never had it
    assert "de" in proxies.by_name[carrier].users and "auth" not in proxies.by_name[carrier].refused
    assert not {h for h in echo["headers"] if "proxy" in h}, echo["headers"]
    wire = json.dumps(rendered.wire)
    for secret in ("pw-de-a", "pw-de-b", proxies.de_a.url, proxies.de_b.url):
        assert secret not in rendered.html and secret not in wire


def test_emulation_only_when_no_proxy_serves_the_place(
    client: Browser7, proxies: StandIns, site_url: str
) -> None:
    mark = token()
    rendered = render_one(client, f"{site_url}/geo?t={mark}", country_code="FR", wait_for=GEO_WAIT)
    assert exit_of(rendered) == {
        "proxied": False,
        "proxy": None,
        "country": None,
        "city": None,
        "failovers": 0,
    }
    assert rendered.result.selected_city is not None and rendered.result.selected_city["name"] == "paris"
    assert text_of(rendered.html, "tz") == "Europe/Paris"
    assert text_of(rendered.html, "lang") == "fr-FR"
    assert proxies.carriers(mark) == []  # straight from the node
    plain = render_one(client, f"{site_url}/headers?t={mark}x")
    assert plain.wire["geoExit"] is None  # no place asked: the node's own (emulated), never an exit
    assert plain.result.selected_city is not None and plain.result.selected_city["name"] == "new.york"
    assert proxies.carriers(f"{mark}x") == []


# ----------------------------------------------------------------------- sticky, forceNewProxy


def test_sticky_exit_per_project_and_place_and_force_new_proxy(
    client: Browser7, proxies: StandIns, site_url: str
) -> None:
    def render(**options: Any) -> str:
        mark = token()
        rendered = render_one(client, f"{site_url}/headers?t={mark}", country_code="DE", **options)
        carrier: str = exit_of(rendered)["proxy"]
        assert proxies.carriers(mark) == [carrier]
        return carrier

    first = render()
    assert render() == first  # sticky
    forced = render(force_new_proxy=True)
    assert forced != first and {first, forced} == {"de-a", "de-b"}
    assert render() == forced  # the new choice is the sticky one now


def test_socks5_exit_with_a_sticky_session_username(
    client: Browser7, proxies: StandIns, site_url: str
) -> None:
    sessions: list[set[str]] = []
    for i in range(3):
        mark = token()
        before = len(proxies.gb.users)
        rendered = render_one(client, f"{site_url}/headers?t={mark}", city="london", force_new_proxy=i == 2)
        assert exit_of(rendered) == {
            "proxied": True,
            "proxy": "gb-socks",
            "country": "GB",
            "city": None,
            "failovers": 0,
        }
        assert proxies.carriers(mark) == ["gb-socks"]
        sessions.append(set(proxies.gb.users[before:]))
        assert text_of(rendered.html, "accept-language").startswith("en-GB")
        assert rendered.result.selected_city is not None
        assert rendered.result.selected_city["timezoneId"] == "Europe/London"
    assert f"{site_authority(site_url)}" in proxies.gb.connects
    # one session name per render (the stand-in requires the template's shape): renders 1 and 2
    # share it, forceNewProxy (render 3) starts a new one
    assert all(len(names) == 1 for names in sessions), sessions
    assert all(re.fullmatch(SESSION_USER, name) for names in sessions for name in names)
    assert sessions[0] == sessions[1] != sessions[2]


def test_network_bytes_match_what_the_proxy_relayed(
    client: Browser7, proxies: StandIns, site_url: str
) -> None:
    proxies.us.reset()
    rendered = render_one(client, f"{site_url}/big?kb=400", city="new.york")
    assert exit_of(rendered)["proxy"] == "us-ny"
    metrics = rendered.result.bandwidth_metrics
    assert metrics is not None
    network = metrics["networkBytes"]
    relayed = proxies.us.bytes_down
    assert relayed > 400 * 1024
    assert abs(network - relayed) <= 0.10 * relayed, (network, relayed)
    print(f"networkBytes={network} proxy relayed={relayed} ({(network - relayed) / relayed:+.2%})")


# ------------------------------------------------------------------------------- dead proxies


def test_a_dead_proxy_does_not_fail_renders_and_cools_down(harness: FleetHarness, site_url: str) -> None:
    with HttpProxyStandIn() as dead, HttpProxyStandIn(username="ok", password="pw") as alive:
        dead.kill()  # every connection dropped unanswered from now on
        running = harness.server(
            proxies=[
                {"url": dead.url, "country": "DE", "name": "dead"},
                {"url": alive.url, "country": "DE", "name": "alive"},
            ],
            proxy_failures_before_cooldown=1,
            proxy_cooldown_s=300,
        )
        try:
            results = []
            for _ in range(3):
                with Browser7(api_key=harness.new_key(running), base_url=running.api) as sdk:
                    mark = token()
                    rendered = render_one(sdk, f"{site_url}/headers?t={mark}", country_code="DE")
                    assert any(mark in r for r in alive.requests) and not dead.requests
                    results.append(exit_of(rendered))
                if len(results) == 2:
                    dead.revive()  # answering again: any attempt through it would now be counted
            first, second, third = results
            # the first project was assigned the dead proxy and failed over within its channel
            assert first["proxy"] == "alive" and first["failovers"] >= 1
            # later projects never try it while it cools down
            assert second == third == {**first, "failovers": 0}
            assert dead.attempts == 0
            status = {s["name"]: s for s in running.fleet.proxies.status()}
            assert status["dead"]["healthy"] is False and status["dead"]["cooldownRemainingS"] > 200
            assert status["dead"]["lastError"] and status["alive"]["healthy"] is True
        finally:
            harness.stop_server(running)


def test_no_working_exit_is_proxy_unavailable_and_not_charged(harness: FleetHarness, site_url: str) -> None:
    with HttpProxyStandIn() as dead:
        dead.kill()
        running = harness.server(proxies=[{"url": dead.url, "country": "DE", "name": "dead"}])
        try:
            with Browser7(api_key=harness.new_key(running), base_url=running.api) as sdk:
                before = sdk.get_account_balance().total_balance_cents
                render_id = sdk.create_render(f"{site_url}/headers?t={token()}", country_code="DE")[
                    "renderId"
                ]
                failed = wait_render(sdk, render_id)
                body = failed.json()
                assert failed.status_code == 422, body
                assert body["errorCode"] == "PROXY_UNAVAILABLE"
                assert "no working exit proxy" in body["errorMessage"]
                assert (body["billable"], body["charged"], body["chargedAmountCents"]) == (False, False, 0)
                assert sdk.get_account_balance().total_balance_cents == before
        finally:
            harness.stop_server(running)


# ---------------------------------------------------------------------------- require_geo_proxy


def test_require_geo_proxy_rejects_places_without_an_exit(
    harness: FleetHarness, proxies: StandIns, site_url: str
) -> None:
    running = harness.server(
        proxies=[{"url": proxies.us.url, "country": "US", "name": "us-only"}], require_geo_proxy=True
    )
    try:
        with Browser7(api_key=harness.new_key(running), base_url=running.api) as sdk:
            before = sdk.get_account_balance().total_balance_cents
            for options, field, message in (
                ({"country_code": "DE"}, "countryCode", "No exit proxy for DE"),
                ({"city": "paris"}, "city", "No exit proxy for paris (FR)"),
                ({"country_code": "GB", "city": "london"}, "city", "No exit proxy for london (GB)"),
            ):
                with pytest.raises(ValidationError) as caught:
                    sdk.create_render(f"{site_url}/headers", **options)
                assert caught.value.status_code == 400
                assert caught.value.body is not None and caught.value.body["message"] == message
                assert caught.value.details == [{"field": field, "message": message}]
            mark = token()
            rendered = render_one(sdk, f"{site_url}/headers?t={mark}", city="chicago")
            assert exit_of(rendered)["proxy"] == "us-only"  # a US exit serves any US city
            assert any(mark in r for r in proxies.us.requests)
            assert render_one(sdk, f"{site_url}/headers").wire["geoExit"] is None  # no place: fine
            assert sdk.get_account_balance().total_balance_cents == before - 2
    finally:
        harness.stop_server(running)
