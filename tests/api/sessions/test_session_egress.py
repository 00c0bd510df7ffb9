"""Session egress options end to end: ``proxies`` routing (external / browserbase / none, per
``domainPattern``), ``browserSettings.allowedDomains`` and ``browserSettings.blockAds``.

The official ``browserbase`` SDK creates the sessions, Playwright drives them over ``connect_url``.
The server declares a DE exit (an HTTP stand-in proxy requiring Basic auth) and an operator ad
list naming ``localhost``; a second stand-in plays a user's own ("external") proxy. Pages are the
local test site under two names, ``127.0.0.1`` and ``localhost``, so host rules and patterns can
tell them apart. "The site saw it" is read from the site's own pixel hit counter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browserbase import BadRequestError, Browserbase
from playwright.sync_api import Page, sync_playwright

from tests.support.fleet import FleetHarness, RunningServer
from tests.support.upstream_proxy import HttpProxyStandIn

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("session-egress")]


@pytest.fixture(scope="module")
def de_exit() -> Iterator[HttpProxyStandIn]:
    with HttpProxyStandIn(username="de", password="pw-de") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def users_proxy() -> Iterator[HttpProxyStandIn]:
    with HttpProxyStandIn(username="alice", password="s3cret") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def server_settings(de_exit: HttpProxyStandIn, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    ad_file = tmp_path_factory.mktemp("adlist") / "ads.hosts"
    ad_file.write_text("# operator additions\n0.0.0.0 tracker.invalid\nlocalhost\n")
    return {
        "proxies": [{"url": de_exit.url, "country": "DE", "name": "de-exit"}],
        "ad_block_hosts_file": str(ad_file),
        "session_slots": 4,
    }


def site_port(site_url: str) -> int:
    return int(site_url.rsplit(":", 1)[1])


def hits(site_url: str, token: str) -> int:
    count: int = httpx.get(f"{site_url}/hits", params={"t": token}, timeout=5).json()["images"]
    return count


class Driven:
    """A Playwright page in the session's default context."""

    def __init__(self, connect_url: str) -> None:
        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.connect_over_cdp(connect_url, timeout=15000)
        self.page: Page = self.browser.contexts[0].new_page()

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._pw.stop()


def run_session(client: Browserbase, **options: Any) -> tuple[str, Driven]:
    session = client.sessions.create(**options)
    assert session.status == "RUNNING"
    return session.id, Driven(session.connect_url)


def release(client: Browserbase, session_id: str) -> int:
    """Release; the session's proxyBytes afterwards."""
    client.sessions.update(session_id, status="REQUEST_RELEASE")
    ended = client.sessions.retrieve(session_id)
    assert ended.status == "COMPLETED"
    return ended.proxy_bytes


def job_result(harness: FleetHarness, server: RunningServer, session_id: str) -> dict[str, Any]:
    job = harness.run(server.fleet.store.get_job(session_id))
    assert job is not None and job.result is not None
    return job.result


def test_external_proxy_by_domain_pattern_and_none_for_the_rest(
    harness: FleetHarness,
    sserver: RunningServer,
    client: Browserbase,
    users_proxy: HttpProxyStandIn,
    site_url: str,
) -> None:
    users_proxy.reset()
    port = site_port(site_url)
    via, direct = uuid.uuid4().hex, uuid.uuid4().hex
    session_id, driven = run_session(
        client,
        proxies=[
            {
                "type": "external",
                "server": f"http://127.0.0.1:{users_proxy.port}",
                "username": "alice",
                "password": "s3cret",
                "domain_pattern": r"^localhost$",
            },
            {"type": "none"},
        ],
    )
    try:
        response = driven.page.goto(f"http://localhost:{port}/api/echo?t={via}")
        assert response is not None and response.status == 200
        echoed = response.json()
        assert echoed["query"] == {"t": via}
        assert not [h for h in echoed["headers"] if h.startswith("proxy-")], echoed["headers"]
        assert driven.page.goto(f"http://127.0.0.1:{port}/img/pixel.png?t={direct}") is not None
    finally:
        driven.close()
    # the user's proxy carried the localhost page (credentials presented and accepted) ...
    assert any(via in target for target in users_proxy.requests), users_proxy.requests
    assert users_proxy.users and set(users_proxy.users) == {"alice"}
    assert users_proxy.refused == []
    assert any(target.startswith("localhost:") for target in users_proxy.connects)
    # ... and nothing of the 127.0.0.1 page, which went out directly and reached the site
    assert not any(direct in target for target in users_proxy.requests)
    assert hits(site_url, direct) == 1
    assert release(client, session_id) > 0
    routes = job_result(harness, sserver, session_id)["egress"]["routes"]
    assert [r["type"] for r in routes] == ["external", "none"]
    assert routes[0]["proxy"] == f"http://127.0.0.1:{users_proxy.port}"  # never the credentials
    assert "s3cret" not in str(routes)


def test_browserbase_geolocation_uses_the_node_exit_for_that_country(
    harness: FleetHarness,
    sserver: RunningServer,
    client: Browserbase,
    de_exit: HttpProxyStandIn,
    site_url: str,
) -> None:
    de_exit.reset()
    token = uuid.uuid4().hex
    session_id, driven = run_session(
        client, proxies=[{"type": "browserbase", "geolocation": {"country": "DE"}}]
    )
    try:
        response = driven.page.goto(f"{site_url}/img/pixel.png?t={token}")
        assert response is not None and response.status == 200
    finally:
        driven.close()
    assert any(token in target for target in de_exit.requests), de_exit.requests
    assert set(de_exit.users) == {"de"}
    assert hits(site_url, token) == 1
    assert release(client, session_id) > 0
    (route,) = job_result(harness, sserver, session_id)["egress"]["routes"]
    assert route["proxied"] is True and route["proxy"] == "de-exit" and route["country"] == "DE"


def test_external_proxy_at_a_refused_address_is_blocked_by_the_egress_policy(
    harness: FleetHarness, sserver: RunningServer, client: Browserbase, site_url: str
) -> None:
    token = uuid.uuid4().hex
    # accepted at create time (a well-formed URL); the node refuses to connect to 10.0.0.1
    session_id, driven = run_session(client, proxies=[{"type": "external", "server": "http://10.0.0.1:8080"}])
    try:
        response = driven.page.goto(f"{site_url}/img/pixel.png?t={token}")
        assert response is not None
        assert response.status == 403
        assert response.headers.get("x-browserfleet-egress") == "blocked"
        assert "external proxy http://10.0.0.1:8080: private address" in response.text()
    finally:
        driven.close()
    assert hits(site_url, token) == 0
    release(client, session_id)


def test_invalid_proxy_options_are_400_naming_the_field(client: Browserbase) -> None:
    cases: list[tuple[list[dict[str, Any]], str]] = [
        ([{"type": "external", "server": "ftp://proxy.example:21"}], "proxies[0].server"),
        (
            [{"type": "none"}, {"type": "browserbase", "geolocation": {"country": "ZZ"}}],
            "proxies[1].geolocation.country",
        ),
        (
            [{"type": "browserbase", "geolocation": {"country": "DE", "city": "Atlantis"}}],
            "proxies[0].geolocation.city",
        ),
        ([{"type": "none", "domain_pattern": "(unclosed"}], "proxies[0].domainPattern"),
    ]
    for proxies, field in cases:
        with pytest.raises(BadRequestError) as caught:
            client.sessions.create(proxies=proxies)  # type: ignore[arg-type]
        body = caught.value.body
        assert isinstance(body, dict) and body["statusCode"] == 400, body
        assert body["message"].startswith(f"{field}:"), body


def test_allowed_domains_refuse_every_other_host_before_it_is_reached(
    sserver: RunningServer, client: Browserbase, site_url: str
) -> None:
    port = site_port(site_url)
    allowed, refused = uuid.uuid4().hex, uuid.uuid4().hex
    session_id, driven = run_session(client, browser_settings={"allowed_domains": ["localhost"]})
    try:
        ok = driven.page.goto(f"http://localhost:{port}/img/pixel.png?t={allowed}")
        assert ok is not None and ok.status == 200
        blocked = driven.page.goto(f"http://127.0.0.1:{port}/img/pixel.png?t={refused}")
        assert blocked is not None and blocked.status == 403
        assert blocked.headers.get("x-browserfleet-egress") == "blocked"
        assert "not in allowedDomains" in blocked.text()
    finally:
        driven.close()
    assert hits(site_url, allowed) == 1
    assert hits(site_url, refused) == 0
    release(client, session_id)


LOAD_IMAGE = """src => new Promise(done => {
    const img = new Image();
    img.onload = () => done("load");
    img.onerror = () => done("error");
    img.src = src;
})"""


@pytest.mark.parametrize("block_ads", [True, False])
def test_block_ads_refuses_hosts_on_the_ad_list(
    sserver: RunningServer, client: Browserbase, site_url: str, block_ads: bool
) -> None:
    token = uuid.uuid4().hex
    port = site_port(site_url)
    session_id, driven = run_session(client, browser_settings={"block_ads": block_ads})
    try:
        page = driven.page
        page.goto(f"{site_url}/structured")  # a page on 127.0.0.1, not on the list
        assert page.locator("tr.person").count() == 5
        outcome = page.evaluate(LOAD_IMAGE, f"http://localhost:{port}/img/pixel.png?t={token}")
    finally:
        driven.close()
    if block_ads:  # localhost is on the operator's ad list: refused by the channel, never fetched
        assert outcome == "error"
        assert hits(site_url, token) == 0
    else:
        assert outcome == "load"
        assert hits(site_url, token) == 1
    assert release(client, session_id) > 0  # the page itself still counts


def test_proxies_without_any_exit_proxy_are_400_unless_direct_is_allowed(
    harness: FleetHarness, server: RunningServer, site_url: str
) -> None:
    """The default server declares no exit: ``proxies: true`` (or a browserbase rule) would
    browse from the node's own address, so it is refused naming the settings; a server with
    ``session_proxy_direct_fallback`` accepts it and records that the traffic went direct."""
    strict = Browserbase(api_key=harness.new_key(server), base_url=server.url)
    for proxies, field in (
        (True, "proxies"),
        ([{"type": "browserbase", "geolocation": {"country": "DE"}}], "proxies[0]"),
    ):
        with pytest.raises(BadRequestError) as caught:
            strict.sessions.create(proxies=proxies)  # type: ignore[arg-type]
        body = caught.value.body
        assert isinstance(body, dict) and body["statusCode"] == 400, body
        assert body["message"].startswith(f"{field}: "), body
        assert "proxy_file" in body["message"] and "session_proxy_direct_fallback" in body["message"]
    assert strict.sessions.list() == []  # nothing was started

    lenient = harness.server(session_proxy_direct_fallback=True)
    try:
        key = harness.new_key(lenient)
        client = Browserbase(api_key=key, base_url=lenient.url)
        token = uuid.uuid4().hex
        session_id, driven = run_session(client, proxies=True)
        try:
            response = driven.page.goto(f"{site_url}/img/pixel.png?t={token}")
            assert response is not None and response.status == 200
        finally:
            driven.close()
        assert hits(site_url, token) == 1
        release(client, session_id)
        (route,) = job_result(harness, lenient, session_id)["egress"]["routes"]
        assert route["type"] == "browserbase" and route["proxied"] is False
    finally:
        harness.stop_server(lenient)
