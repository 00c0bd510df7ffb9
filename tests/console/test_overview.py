"""The overview's figures and charts, keys and project settings, and the admin's fleet page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.console.conftest import render_now, sign_in
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser]
ADMIN_KEY = "console-admin-key-0123456789"


def test_overview_shows_balance_usage_charts_and_failures(
    signed_in: Page, cserver: RunningServer, key: str, site_url: str
) -> None:
    render_now(cserver, key, f"{site_url}/js-content")
    render_now(
        cserver,
        key,
        f"{site_url}/delayed",
        waitFor=[{"type": "selector", "selector": "#never", "timeout": 1000}],
    )
    page = signed_in
    page.goto(f"{cserver.url}/console/")
    assert page.locator("#balance").inner_text().startswith("$")
    assert page.locator(".chart").count() == 5
    renders_chart = page.locator(".chart", has_text="Renders")
    assert "(2.0 renders in all)" in renders_chart.inner_text()
    assert renders_chart.locator("rect").count() == 14
    assert page.locator("#failures tr").count() == 2  # header + one error code
    page.locator("#failures a").click()
    assert page.locator("#renders tbody tr").count() == 1


def test_limits_are_saved_and_refused_out_of_range(signed_in: Page, cserver: RunningServer) -> None:
    page = signed_in
    page.goto(f"{cserver.url}/console/settings")
    page.fill("#concurrency", "3")
    page.fill("#timeout_s", "90")
    page.click("#limits button")
    assert page.locator("#saved").count() == 1
    page.goto(f"{cserver.url}/console/settings")
    assert page.locator("#concurrency").input_value() == "3"
    assert page.locator("#timeout_s").input_value() == "90"
    page.fill("#concurrency", "0")
    page.click("#limits button")
    assert "concurrency" in page.locator("#form-error").inner_text()
    assert len(page.locator("#webhook-secret").text_content() or "") > 20  # behind <details>


@pytest.fixture(scope="module")
def admin_server(harness: FleetHarness) -> Iterator[RunningServer]:
    running = harness.server(admin_key=ADMIN_KEY)
    yield running
    harness.stop_server(running)


def test_the_admin_key_sees_the_fleet_and_a_project_key_does_not(
    page: Page, harness: FleetHarness, admin_server: RunningServer
) -> None:
    project_key = harness.new_key(admin_server)
    sign_in(page, admin_server, project_key)
    answer = page.goto(f"{admin_server.url}/console/fleet")
    assert answer is not None and answer.status == 404
    page.click("#signout")
    page.goto(f"{admin_server.url}/console/signin")
    page.fill("#key", ADMIN_KEY)
    page.click("#signin")
    page.wait_for_url("**/console/fleet")
    assert "test-node" in page.locator("#nodes").inner_text()
    assert "render" in page.locator("#queues").inner_text()
    assert "%" in page.locator("#cpu").inner_text()
