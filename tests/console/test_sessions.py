"""Sessions in the console: live frames while it runs, then the replay, the video, the logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright

from tests.console.conftest import api, poll
from tests.support.contexts import zip_of
from tests.support.fleet import RunningServer

pytestmark = [pytest.mark.browser]


@pytest.mark.timeout(300)  # a browser, a recording and a video encoded on a loaded machine
def test_running_session_live_then_replay_and_video_after_release(
    signed_in: Page, pw: Playwright, cserver: RunningServer, key: str, site_url: str
) -> None:
    page = signed_in
    with api(cserver, key) as client:
        created = client.post("/v1/sessions", json={"userMetadata": {"suite": "console"}})
        assert created.status_code == 201, created.text
        session = created.json()
    driver: Browser = pw.chromium.connect_over_cdp(session["connectUrl"])
    try:
        visited = driver.contexts[0].pages[0]
        visited.goto(f"{site_url}/js-content")
        visited.wait_for_selector("li.product")
        page.goto(f"{cserver.url}/console/sessions")
        page.locator("#sessions a", has_text=session["id"]).click()
        page.wait_for_url(f"**/console/sessions/{session['id']}")
        snippet = page.locator("#snippet-1").inner_text()
        ran = subprocess.run(  # the Playwright snippet as a user would paste it, on the test site
            [sys.executable, "-c", snippet.replace("https://example.com", f"{site_url}/js-content")],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.stdout.strip() == "JS content", ran.stderr
        live = next(f for f in _frames_after(page, "#live") if "/live" in f.url)
        poll(live, "() => window.__liveView && window.__liveView.frames > 0")
        visited.mouse.wheel(0, 200)  # activity while the viewer watches
    finally:
        driver.close()
    page.click("#release")
    page.wait_for_url(f"**/console/sessions/{session['id']}")
    poll(page, "() => document.querySelector('#replay[data-ready]') !== null", timeout=30)
    replayed = page.frame_locator("#replay iframe")
    assert "Product 1" in replayed.locator("body").inner_text(timeout=20_000)
    poll(page, "() => document.querySelector('video.page-video') !== null", timeout=90)
    poll(
        page,
        """() => { const v = document.querySelector('video.page-video'); v.play();
                   return v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0 }""",
        timeout=30,
    )
    assert page.locator("#logs tbody tr").count() > 1


def _frames_after(page: Page, selector: str) -> list:  # type: ignore[type-arg]
    page.wait_for_selector(selector)
    poll(page, "(s) => document.querySelector(s).contentWindow.location.href !== 'about:blank'", arg=selector)
    return page.frames


def test_session_list_filters_by_metadata(signed_in: Page, cserver: RunningServer, key: str) -> None:
    with api(cserver, key) as client:
        ids = []
        for team in ("red", "blue"):
            created = client.post("/v1/sessions", json={"userMetadata": {"team": team}})
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
            client.post(f"/v1/sessions/{ids[-1]}", json={"status": "REQUEST_RELEASE"})
    page = signed_in
    page.goto(f"{cserver.url}/console/sessions")
    page.fill("#session-filters input[name=q]", "user_metadata['team']:'blue'")
    page.click("#session-filters button")
    rows = page.locator("#sessions tbody tr")
    assert rows.count() == 1 and ids[1] in rows.inner_text()
    page.fill("#session-filters input[name=q]", "not a query")
    page.click("#session-filters button")
    assert page.locator(".error").count() == 1


def test_contexts_and_extensions_list_upload_delete(
    signed_in: Page, cserver: RunningServer, tmp_path: Path
) -> None:
    page = signed_in
    page.goto(f"{cserver.url}/console/library")
    page.fill("#context-form input[name=name]", "<b>checkout</b> profile")
    page.click("#context-form button")
    context_row = page.locator("#contexts tbody tr", has_text="<b>checkout</b> profile")
    assert "empty" in context_row.inner_text()
    profile = tmp_path / "profile.zip"
    profile.write_bytes(zip_of({"Default/Preferences": json.dumps({"profile": {"name": "docs"}})}))
    context_row.locator("input[type=file]").set_input_files(str(profile))
    context_row.locator(".profile-upload button").click()
    assert "empty" not in page.locator("#contexts tbody tr", has_text="checkout").inner_text()
    extension = tmp_path / "hello.zip"
    manifest = {"manifest_version": 3, "name": "Hello", "version": "1.2"}
    extension.write_bytes(zip_of({"manifest.json": json.dumps(manifest)}))
    page.set_input_files("#extension-form input[type=file]", str(extension))
    page.click("#extension-form button")
    row = page.locator("#extensions tbody tr", has_text="Hello")
    assert "1.2" in row.inner_text()
    not_a_zip = tmp_path / "bad.zip"
    not_a_zip.write_bytes(b"nope")
    page.set_input_files("#extension-form input[type=file]", str(not_a_zip))
    page.click("#extension-form button")
    assert page.locator("#form-error").count() == 1  # the API's own refusal
    row.locator("button").click()
    assert page.locator("#extensions tbody tr", has_text="Hello").count() == 0
    page.locator("#contexts tbody tr", has_text="checkout").locator("button.danger").click()
    assert page.locator("#contexts tbody tr", has_text="checkout").count() == 0
