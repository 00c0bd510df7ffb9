"""A destination the egress policy refuses is the documented ``EGRESS_BLOCKED`` failure — in
automation steps (``go``, ``download_file``) and in ``POST /v1/fetch`` — never a success whose
content is the egress proxy's own refusal page, whatever way the address was reached: a redirect,
a non-canonical IPv4 literal, an IPv6 literal.

Real servers whose policy allows only the test site's ``127.0.0.1`` (or nothing), real Chromium
for the runs, the official ``browserbase`` SDK for fetches, job records read back from the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browserbase import Browserbase, PermissionDeniedError

from tests.support.automations import Automations
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("egress-failures")]


@pytest.fixture(scope="module")
def strict(harness: FleetHarness) -> Iterator[RunningServer]:
    """Nothing private is allowed, the test site's 127.0.0.1 included."""
    running = harness.server(egress_allow=[])
    yield running
    harness.stop_server(running)


def site_port(site_url: str) -> int:
    return int(site_url.rsplit(":", 1)[1])


def run_steps(harness: FleetHarness, server: RunningServer, steps: list[dict[str, Any]]) -> dict[str, Any]:
    client = Automations(server, harness.new_key(server))
    try:
        return client.run_task(client.create_task(steps)["uid"])
    finally:
        client.close()


def assert_blocked(run: dict[str, Any], step: str, where: str) -> None:
    assert run["status"] == "failed", run
    assert run["error"]["code"] == "EGRESS_BLOCKED" and run["error"]["step"] == step, run["error"]
    assert where in run["error"]["message"] and "egress" in run["error"]["message"], run["error"]


def test_a_go_redirected_to_a_blocked_address_fails_the_run(
    harness: FleetHarness, server: RunningServer, site_url: str
) -> None:
    run = run_steps(
        harness,
        server,
        [
            {
                "uid": "open",
                "action": "go",
                "config": {"url": f"{site_url}/redirect?to=http://10.0.0.1/admin"},
            },
            {"uid": "title", "action": "save_text", "config": {"selector": "body"}},
        ],
    )
    assert_blocked(run, "open", "10.0.0.1")
    assert "title_save_text" not in run["outputs"]


def test_a_go_to_a_non_canonical_loopback_literal_fails_the_run(
    harness: FleetHarness, strict: RunningServer, site_url: str
) -> None:
    run = run_steps(
        harness,
        strict,
        [
            {
                "uid": "open",
                "action": "go",
                "config": {"url": f"http://127.1:{site_port(site_url)}/structured"},
            },
            {"uid": "title", "action": "save_text", "config": {"selector": "h1"}},
        ],
    )
    assert_blocked(run, "open", "127.0.0.1")
    assert "title_save_text" not in run["outputs"]


def test_a_download_from_a_blocked_address_fails_the_run(
    harness: FleetHarness, server: RunningServer, site_url: str
) -> None:
    run = run_steps(
        harness,
        server,
        [
            {"uid": "open", "action": "go", "config": {"url": f"{site_url}/structured"}},
            {"uid": "dl", "action": "download_file", "config": {"url": "http://10.0.0.1/report.csv"}},
        ],
    )
    assert_blocked(run, "dl", "10.0.0.1")
    assert "dl_download_file" not in run["outputs"]


@pytest.mark.parametrize("path", ["/", "/redirect-to-v6"])
def test_a_fetch_of_an_ipv6_literal_is_egress_blocked(
    harness: FleetHarness, server: RunningServer, site_url: str, path: str
) -> None:
    port = site_port(site_url)
    target = f"http://[::1]:{port}/api/text"
    url = target if path == "/" else f"{site_url}/redirect?to={target}"
    client = Browserbase(api_key=harness.new_key(server), base_url=server.url, max_retries=0)
    with pytest.raises(PermissionDeniedError) as caught:
        client.fetch_api.create(url=url, allow_redirects=True)
    body: Any = caught.value.body
    assert body["statusCode"] == 403 and body["id"].startswith("fet_"), body
    assert "egress policy" in body["message"] and "::1" in body["message"], body
    job = harness.run(server.fleet.store.get_job(body["id"]))
    assert job is not None and job.error_code == "EGRESS_BLOCKED", job
    assert job.result is not None and [b["ip"] for b in job.result["blocked"]] == ["::1"]
