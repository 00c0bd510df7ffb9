"""What the console guards: its session cookie, CSRF, other projects' ids, revoked keys, escaping."""

from __future__ import annotations

import time

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.console.conftest import api, render_now, sign_in
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser]


def test_sign_in_sets_a_strict_http_only_cookie_and_the_key_shows_nowhere(
    page: Page, cserver: RunningServer, key: str
) -> None:
    sign_in(page, cserver, key)
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["bf_console"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["expires"] > time.time() + 3600  # it expires (12 h by default)
    assert key not in session["value"]
    for path in ("/console/", "/console/renders", "/console/settings"):
        page.goto(f"{cserver.url}{path}")
        assert key not in page.content() and key not in page.url
    page.click("#signout")
    page.wait_for_url("**/console/signin")
    page.goto(f"{cserver.url}/console/renders")
    assert page.url.endswith("/console/signin")


def test_a_wrong_key_is_refused(page: Page, cserver: RunningServer) -> None:
    page.goto(f"{cserver.url}/console/signin")
    page.fill("#key", "bf_not-a-key")
    page.click("#signin")
    assert "invalid" in page.locator("#form-error").inner_text()
    assert "bf_console" not in {c["name"] for c in page.context.cookies()}


def test_cross_site_form_post_without_csrf_token_is_refused(
    signed_in: Page, cserver: RunningServer, key: str, site_url: str
) -> None:
    page = signed_in
    before = _key_count(page, cserver)
    page.goto(f"{site_url}/")  # another origin, in the same signed-in browser
    page.evaluate(
        """(action) => {
            const form = document.createElement('form');
            form.method = 'POST'; form.action = action;
            document.body.appendChild(form); form.submit();
        }""",
        f"{cserver.url}/console/settings/keys",
    )
    page.wait_for_url(f"{cserver.url}/console/settings/keys")
    assert page.locator("h1").inner_text().startswith("403")
    assert "CSRF" in page.locator("#error-message").inner_text()
    assert _key_count(page, cserver) == before
    # the same post from the console's own form goes through
    page.goto(f"{cserver.url}/console/settings")
    page.click("#create-key")
    assert page.locator("#new-key").inner_text().startswith("bf_")
    assert _key_count(page, cserver) == before + 1


def test_a_post_without_a_session_or_token_changes_nothing(cserver: RunningServer) -> None:
    answer = httpx.post(f"{cserver.url}/console/settings/keys", data={}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/signin"
    answer = httpx.post(f"{cserver.url}/console/signin", data={"key": "x"}, follow_redirects=False)
    assert answer.status_code == 403  # even signing in needs this browser's token


def _key_count(page: Page, server: RunningServer) -> int:
    page.goto(f"{server.url}/console/settings")
    return page.locator("#keys tbody tr").count()


def test_another_projects_render_is_a_404_page(
    signed_in: Page, harness: FleetHarness, cserver: RunningServer, site_url: str
) -> None:
    other_key = harness.new_key(cserver)
    theirs = render_now(cserver, other_key, f"{site_url}/js-content")
    for path in ("", "/screenshot", "/preview", "/html"):
        answer = signed_in.goto(f"{cserver.url}/console/renders/{theirs}{path}")
        assert answer is not None and answer.status == 404
    signed_in.goto(f"{cserver.url}/console/renders/{theirs}")
    assert "Not found" in signed_in.locator("h1").inner_text()
    signed_in.goto(f"{cserver.url}/console/renders")
    assert theirs not in signed_in.content()


def test_another_projects_session_task_and_run_are_404_pages(
    signed_in: Page, harness: FleetHarness, cserver: RunningServer, site_url: str
) -> None:
    other_key = harness.new_key(cserver)
    with api(cserver, other_key) as client:
        session = client.post("/v1/sessions", json={}).json()["id"]
        client.post(f"/v1/sessions/{session}", json={"status": "REQUEST_RELEASE"})
        steps = [{"uid": "open", "action": "go", "config": {"url": f"{site_url}/js-content"}}]
        task = client.post("/v1/tasks", json={"name": "theirs", "steps": steps}).json()["uid"]
        run = client.post(f"/v1/tasks/{task}/runs", json={}).json()["uid"]
    for path in (
        f"/sessions/{session}",
        f"/sessions/{session}/recording.json",
        f"/sessions/{session}/videos/0.mp4",
        f"/tasks/{task}",
        f"/tasks/{task}/runs/{run}",
        "/browsing/brw_0123456789abcdef01234567",
    ):
        answer = signed_in.goto(f"{cserver.url}/console{path}")
        assert answer is not None and answer.status == 404, path


def test_a_revoked_keys_console_session_stops_working(
    console_browser: Browser, harness: FleetHarness, cserver: RunningServer, key: str
) -> None:
    owner = console_browser.new_context().new_page()
    sign_in(owner, cserver, key)
    owner.goto(f"{cserver.url}/console/settings")
    owner.click("#create-key")
    second = owner.locator("#new-key").inner_text()
    other = console_browser.new_context().new_page()
    sign_in(other, cserver, second)
    other.goto(f"{cserver.url}/console/renders")
    assert other.url.endswith("/console/renders")
    owner.goto(f"{cserver.url}/console/settings")
    owner.locator("#keys tr", has_text=second[:10]).locator("button.revoke").click()
    assert "revoked" in owner.locator("#keys tr", has_text=second[:10]).inner_text()
    other.goto(f"{cserver.url}/console/renders")
    assert other.url.endswith("/console/signin")  # the session is gone with its key
    assert (
        httpx.get(
            f"{cserver.url}/v1/account/balance", headers={"Authorization": f"Bearer {second}"}
        ).status_code
        == 401
    )
    owner.context.close()
    other.context.close()


def test_root_sends_a_browser_to_the_console_and_an_api_client_a_404(
    page: Page, cserver: RunningServer
) -> None:
    page.goto(f"{cserver.url}/")
    assert page.url.endswith("/console/signin")
    assert httpx.get(f"{cserver.url}/", headers={"Accept": "application/json"}).status_code == 404
