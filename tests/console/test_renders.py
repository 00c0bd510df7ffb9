"""Renders in the console: the list, a render's page (screenshot, sandboxed preview, timings),
and the form that starts one."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from browserfleet.core.jobs import JobKind, Route
from tests.console.conftest import poll, render_now
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser]


def test_render_from_the_api_shows_in_the_list_and_its_page(
    signed_in: Page, cserver: RunningServer, key: str, site_url: str
) -> None:
    page = signed_in
    render_id = render_now(
        cserver, key, f"{site_url}/hostile", includeScreenshot=True, screenshotFormat="png"
    )
    page.goto(f"{cserver.url}/console/renders")
    row = page.locator("#renders tbody tr", has_text=f"{site_url}/hostile")
    assert row.count() == 1
    title = (
        "<img src=x onerror=\"window.top.__pwned='title'\"><script>window.top.__pwned='title-script'</script>"
    )
    assert row.locator(".title").inner_text() == title  # shown as text, not as markup
    row.locator("a").first.click()
    page.wait_for_url(f"**/console/renders/{render_id}")
    poll(
        page,
        "() => { const i = document.getElementById('screenshot'); return i.complete && i.naturalWidth > 0 }",
    )
    preview = page.frame_locator("#preview")
    assert preview.locator("#headline").inner_text() == "Hostile page body text"
    assert preview.locator("#ran").inner_text() == "scripts did not run"
    assert page.evaluate("() => window.__pwned === undefined && !document.body.hasAttribute('data-pwned')")
    assert page.locator("#waterfall .wf-row").count() >= 2
    assert page.locator("#preview").get_attribute("sandbox") == ""


def test_start_a_render_from_the_form(signed_in: Page, cserver: RunningServer, site_url: str) -> None:
    page = signed_in
    page.goto(f"{cserver.url}/console/renders/new")
    page.fill("#f-url", "not a url")
    page.click("#render-form button[type=submit]")
    assert "url" in page.locator("#form-error").inner_text()
    page.fill("#f-url", f"{site_url}/js-content")
    page.check("#f-includeScreenshot")
    page.click("#render-form button[type=submit]")
    page.wait_for_url("**/console/renders/ren_*")
    poll(page, "() => document.querySelector('.state-completed') !== null", timeout=60)
    assert "Product 1" in page.frame_locator("#preview").locator("body").inner_text()


def test_the_list_is_paged_on_the_server(
    signed_in: Page, harness: FleetHarness, cserver: RunningServer, key: str
) -> None:
    store = cserver.fleet.store

    async def seed() -> None:
        project = await cserver.fleet.accounts.authenticate(key)
        for i in range(30):
            await store.insert_job(
                job_id=f"ren_paged{i:02d}{project.id[-8:]}",
                project_id=project.id,
                kind=JobKind.RENDER,
                route=Route(),
                spec={"url": f"https://paged.example/{i}"},
            )

    harness.run(seed())
    page = signed_in
    page.goto(f"{cserver.url}/console/renders?url=paged.example")
    assert page.locator("#renders tbody tr").count() == 25
    assert page.locator(".pager").inner_text().startswith("page 1 of 2 · 30 in all")
    page.click(".pager a[rel=next]")
    assert page.locator("#renders tbody tr").count() == 5
    assert "https://paged.example/0" in page.locator("#renders").inner_text()
    assert "url=paged.example" in page.url  # the filter stays
