"""The egress policy seen through the Renders API.

A server with the default policy (no allow-list) refuses private, loopback and metadata
destinations: the render fails with ``EGRESS_BLOCKED``, is not billable and costs nothing, and
the egress proxy refuses before connecting, so nothing reaches the destination. The only
destinations used here are 169.254.169.254, 10.0.0.1 (both always refused) and the local test
site on 127.0.0.1.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
from browser7 import Browser7, RenderError

from tests.support.api_errors import failed_render
from tests.support.e2e import RenderApi, decode_html
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.render_client import element

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("renders-egress")]

METADATA_URL = "http://169.254.169.254/latest/meta-data/"
PRIVATE_URL = "http://10.0.0.1/"
EGRESS_LOGGER = "browserfleet.node.egress"


@pytest.fixture(scope="module")
def deny_server(harness: FleetHarness) -> Iterator[RunningServer]:
    """The default egress policy: every non-public destination is refused."""
    running = harness.server(egress_allow=[])
    yield running
    harness.stop_server(running)


@pytest.fixture(scope="module")
def open_server(harness: FleetHarness) -> Iterator[RunningServer]:
    """``allow_private_networks``: private destinations are allowed (used here only for the site)."""
    running = harness.server(allow_private_networks=True, egress_allow=[])
    yield running
    harness.stop_server(running)


def pixel_hits(site_url: str, token: str) -> int:
    """How often the test site served ``/img/pixel.png?t=token``."""
    with httpx.Client() as http:
        hits: int = http.get(f"{site_url}/hits", params={"t": token}).json()["images"]
    return hits


def site_port(site_url: str) -> int:
    port = httpx.URL(site_url).port
    assert port is not None
    return port


@pytest.mark.parametrize(
    ("target", "refused_ip"),
    [
        pytest.param(METADATA_URL, "169.254.169.254", id="metadata"),
        pytest.param(PRIVATE_URL, "10.0.0.1", id="private-10"),
        pytest.param("https://10.0.0.1/", "10.0.0.1", id="private-10-https"),
        pytest.param("site:127.0.0.1", "127.0.0.1", id="test-site"),
        pytest.param("site:localhost", "127.0.0.1", id="localhost-name"),
    ],
)
def test_default_policy_refuses_private_destinations(
    harness: FleetHarness, deny_server: RunningServer, site_url: str, target: str, refused_ip: str
) -> None:
    token = uuid.uuid4().hex
    if target.startswith("site:"):  # the pixel counts every request that reaches the site
        target = f"http://{target.removeprefix('site:')}:{site_port(site_url)}/img/pixel.png?t={token}"
    key = harness.new_key(deny_server)
    with RenderApi(deny_server.url, key) as api, Browser7(api_key=key, base_url=deny_server.api) as client:
        before = api.balance_cents()
        render_id = client.create_render(target)["renderId"]
        body = failed_render(api.wait(render_id), "EGRESS_BLOCKED")
        assert (body["billable"], body["charged"], body["chargedAmountCents"]) == (False, False, 0)
        assert f"({refused_ip})" in body["errorMessage"]
        assert "blocked by the egress policy" in body["errorMessage"]
        with pytest.raises(RenderError) as caught:
            client.get_render(render_id)
        assert (caught.value.error_code, caught.value.billable) == ("EGRESS_BLOCKED", False)
        assert api.get(render_id).json() == body  # reading it again changes nothing
        assert api.balance_cents() == before
    assert pixel_hits(site_url, token) == 0


def test_allow_private_networks_renders_the_test_site(
    harness: FleetHarness, open_server: RunningServer, site_url: str
) -> None:
    token = uuid.uuid4().hex
    key = harness.new_key(open_server)
    with RenderApi(open_server.url, key) as api:
        before = api.balance_cents()
        ids = [
            api.create({"url": f"{site_url}/structured"}),
            api.create({"url": f"http://localhost:{site_port(site_url)}/structured"}),
            api.create({"url": f"{site_url}/img/pixel.png?t={token}"}),
        ]
        bodies = [api.wait(render_id) for render_id in ids]
        for response in bodies:
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "completed", response.text
        for response in bodies[:2]:
            people = element(decode_html(response.json()["html"]), "people")
            assert people is not None and "Alice" in people.text, people
        assert api.balance_cents() == before - 3
    assert pixel_hits(site_url, token) == 1  # this time the request did reach the site


def test_test_allow_list_admits_the_site_but_not_other_private_addresses(
    server: RunningServer, api_key: str, site_url: str
) -> None:
    with RenderApi(server.url, api_key) as api:
        before = api.balance_cents()
        site_render = api.create({"url": f"{site_url}/structured"})
        private_render = api.create({"url": PRIVATE_URL})
        done = api.wait(site_render)
        assert done.status_code == 200 and done.json()["status"] == "completed", done.text
        people = element(decode_html(done.json()["html"]), "people")
        assert people is not None and "Alice" in people.text, people
        refused = failed_render(api.wait(private_render), "EGRESS_BLOCKED")
        assert (refused["billable"], refused["charged"]) == (False, False)
        assert "(10.0.0.1)" in refused["errorMessage"]
        assert api.balance_cents() == before - 1  # only the site render is charged


def test_fetch_urls_to_blocked_addresses_record_an_error_not_data(
    server: RunningServer, api_key: str, site_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The page renders; each refused fetch is ``status 0`` with an ``error`` and no body.

    The proxy answers a refused fetch itself (403 ``X-Browserfleet-Egress: blocked``, no CORS
    headers), so the page's ``fetch()`` rejects and the executor records the rejection.
    """
    caplog.set_level(logging.INFO, logger=EGRESS_LOGGER)
    fetch_urls = [PRIVATE_URL, METADATA_URL, f"{site_url}/api/text"]
    with RenderApi(server.url, api_key) as api, Browser7(api_key=api_key, base_url=server.api) as client:
        before = api.balance_cents()
        render_id = client.create_render(f"{site_url}/structured", fetch_urls=fetch_urls)["renderId"]
        done = api.wait(render_id)
        assert done.status_code == 200 and done.json()["status"] == "completed", done.text
        wire = done.json()
        assert wire["chargedAmountCents"] == 1
        fetched = json.loads(gzip.decompress(base64.b64decode(wire["fetchResponses"])))
        result = client.get_render(render_id)
        assert result.fetch_responses == fetched  # the SDK decodes the same list
        assert api.balance_cents() == before - 1

    assert [f["url"] for f in fetched] == fetch_urls
    for refused in fetched[:2]:
        assert refused["status"] == 0, refused
        assert refused["body"] == "" and refused["headers"] == {}, refused
        assert refused["error"] == "Failed to fetch", refused
    allowed = fetched[2]
    assert (allowed["status"], allowed["body"]) == (200, "plain text from the site")
    assert "error" not in allowed

    # the proxy's own record of the refusals: decided by policy, before any connection
    refusals = [r.getMessage() for r in caplog.records if r.name.startswith(EGRESS_LOGGER)]
    assert any("blocked 10.0.0.1:80" in m and "private" in m for m in refusals), refusals
    assert any("blocked 169.254.169.254:80" in m and "metadata" in m for m in refusals), refusals
