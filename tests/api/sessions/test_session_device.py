"""``browserSettings.os``: user agent, ``navigator.platform`` and client hints on every page.

The node's supervisor connection prepares each page target before its scripts run, so pages a
client opens later, in the default context or a new one, tell the same story; the test site's
``/api/echo`` shows what the server saw in the headers.
"""

from __future__ import annotations

from typing import Any

import pytest
from browserbase import Browserbase
from playwright.sync_api import Page, sync_playwright

from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("sessions")]
PROBE = """async () => ({
    ua: navigator.userAgent,
    platform: navigator.platform,
    hints: navigator.userAgentData && navigator.userAgentData.platform,
    mobile: navigator.userAgentData && navigator.userAgentData.mobile,
    touch: navigator.maxTouchPoints,
    echo: await (await fetch('/api/echo')).json(),
})"""


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"session_slots": 2}


def probe(page: Page, site_url: str) -> dict[str, Any]:
    page.goto(f"{site_url}/headers")
    result: dict[str, Any] = page.evaluate(PROBE)
    return result


def session_probes(server: RunningServer, key: str, site_url: str, **settings: Any) -> list[dict[str, Any]]:
    """Probe the first page, a new page of the default context, and a page of a new context."""
    client = Browserbase(api_key=key, base_url=server.url)  # type: ignore[arg-type]
    session = client.sessions.create(browser_settings=settings)  # type: ignore[arg-type]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(session.connect_url)
            default = browser.contexts[0]
            results = [probe(default.pages[0], site_url), probe(default.new_page(), site_url)]
            results.append(probe(browser.new_context().new_page(), site_url))
            browser.close()
        return results
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")


@pytest.mark.parametrize(
    ("os_name", "ua_part", "platform", "hints", "mobile"),
    [
        ("mac", "Macintosh; Intel Mac OS X", "MacIntel", "macOS", False),
        ("mobile", "Android", "Linux armv81", "Android", True),
    ],
)
def test_os_profile_on_every_page(
    sserver: RunningServer,
    key: str,
    site_url: str,
    os_name: str,
    ua_part: str,
    platform: str,
    hints: str,
    mobile: bool,
) -> None:
    for result in session_probes(sserver, key, site_url, os=os_name):
        assert ua_part in result["ua"] and "HeadlessChrome" not in result["ua"]
        assert result["platform"] == platform
        assert result["hints"] == hints and result["mobile"] is mobile
        headers = result["echo"]["headers"]
        assert headers["user-agent"] == result["ua"]
        assert headers["sec-ch-ua-platform"] == f'"{hints}"'
        assert headers["sec-ch-ua-mobile"] == ("?1" if mobile else "?0")
        assert (result["touch"] > 0) is mobile


def test_default_profile_is_plain_chrome_on_linux(sserver: RunningServer, key: str, site_url: str) -> None:
    first, _, other_context = session_probes(sserver, key, site_url)
    for result in (first, other_context):
        assert "X11; Linux x86_64" in result["ua"] and "HeadlessChrome" not in result["ua"]
        assert "Chrome/" in result["echo"]["headers"]["user-agent"]
        assert result["platform"] == "Linux x86_64"
        assert '"Google Chrome"' in result["echo"]["headers"]["sec-ch-ua"]


def test_region_routes_to_the_node_group_that_carries_it(harness: FleetHarness) -> None:
    """A node labelled eu-central-1 gets a REGION route for that region; an unserved region runs
    anywhere rather than waiting forever, and reads back as asked."""
    server = harness.server(session_slots=2, node_region="eu-central-1")
    try:
        client = Browserbase(api_key=harness.new_key(server), base_url=server.url)  # type: ignore[arg-type]
        routes = {}
        for region in ("eu-central-1", "us-east-1"):
            session = client.sessions.create(region=region)  # type: ignore[arg-type]
            assert session.region == region and session.status == "RUNNING"
            job = harness.run(server.fleet.store.get_job(session.id))
            assert job is not None
            routes[region] = (job.route.kind.value, job.route.value)
            client.sessions.update(session.id, status="REQUEST_RELEASE")
        assert routes == {"eu-central-1": ("region", "eu-central-1"), "us-east-1": ("any", None)}
    finally:
        harness.stop_server(server)
