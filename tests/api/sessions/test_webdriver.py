"""WebDriver: ``seleniumRemoteUrl`` + ``signingKey`` attach a real Selenium client to a live session.

The official ``browserbase`` SDK creates the session; Selenium's ``webdriver.Remote`` attaches through
the authenticated reverse proxy (node/session/routes/webdriver.py) to the session's own chromedriver
(node/session/webdriver.py, started on the first authenticated request and attached to the session's
running browser). Playwright over ``connect_url`` drives the same browser at the same time.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import httpx
import pytest
from browserbase import Browserbase
from playwright.sync_api import sync_playwright
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.client_config import AuthType, ClientConfig
from selenium.webdriver.remote.remote_connection import RemoteConnection
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.fleet import FleetHarness, RunningServer
from tests.support.procs import descendants, processes
from tests.support.sessions import live, process_gone, wait_status

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("webdriver")]
GRACE_S = 1.0


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"session_grace_s": GRACE_S, "session_slots": 3}


def chromedrivers() -> set[int]:
    """chromedriver processes started from this test process (another xdist worker's don't count)."""
    return {p.pid for p in descendants(os.getpid(), processes()) if p.name == "chromedriver"}


def attach(remote_url: str, **config: object) -> webdriver.Remote:
    """``webdriver.Remote`` on ``remote_url``; ``config`` goes to Selenium's ``ClientConfig``."""
    options = Options()
    options.add_argument("--this-flag-is-dropped")  # the proxy attaches, it does not launch
    options.binary_location = "/nonexistent/chrome"
    connection = RemoteConnection(client_config=ClientConfig(remote_url, timeout=30, **config))  # type: ignore[arg-type]
    return webdriver.Remote(command_executor=connection, options=options)


def test_selenium_and_playwright_drive_the_same_session(
    client: Browserbase, sserver: RunningServer, site_url: str
) -> None:
    before = chromedrivers()
    session = client.sessions.create(keep_alive=True)
    assert (
        session.selenium_remote_url
        == session.connect_url.replace("ws://", "http://").split("/connect?")[0] + "/webdriver"
    )
    assert client.sessions.retrieve(session.id).selenium_remote_url == session.selenium_remote_url
    browser = live(sserver, session.id)
    assert browser.webdriver is not None and browser.webdriver.pid is None  # lazily started

    driver = attach(session.selenium_remote_url, extra_headers={"x-bb-signing-key": session.signing_key})
    try:
        chromedriver_pid = browser.webdriver.pid
        assert chromedriver_pid is not None and chromedriver_pid in chromedrivers()
        assert browser.clients == 1  # an attached WebDriver session counts as a client
        driver.get(f"{site_url}/click")
        driver.find_element(By.ID, "reveal").click()
        revealed = WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "revealed"))
        assert revealed.text == "You clicked it"
        driver.get(f"{site_url}/js-content")
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#from-api .api-item"))
        skus = [e.get_attribute("data-sku") for e in driver.find_elements(By.CSS_SELECTOR, "li.product")]
        assert skus == [f"SKU-{n:03d}" for n in range(1, 21)]
        selenium_tab = driver.current_window_handle

        with sync_playwright() as pw:  # a CDP client on the same session, at the same time
            cdp = pw.chromium.connect_over_cdp(session.connect_url, timeout=15000)
            try:
                pages = cdp.contexts[0].pages
                assert [p.url for p in pages] == [f"{site_url}/js-content"]  # the page Selenium loaded
                pages[0].evaluate("document.title = 'set by playwright'")
                assert driver.title == "set by playwright"
                opened = cdp.contexts[0].new_page()
                opened.goto(f"{site_url}/structured")
                handles = driver.window_handles
                assert len(handles) == 2 and selenium_tab in handles
                driver.switch_to.window(next(h for h in handles if h != selenium_tab))
                assert len(driver.find_elements(By.CSS_SELECTOR, "tr.person")) == 5
            finally:
                cdp.close()
    finally:
        driver.quit()

    # quit only detaches: the session and its browser live on, chromedriver too (until the end)
    assert browser.clients == 0
    assert client.sessions.retrieve(session.id).status == "RUNNING"
    assert browser.webdriver.pid == chromedriver_pid

    released = client.sessions.update(session.id, status="REQUEST_RELEASE")
    assert released.status == "COMPLETED"
    assert process_gone(chromedriver_pid) and process_gone(browser.pid)
    assert browser.webdriver.pid is None
    assert chromedrivers() <= before  # nothing leaked


def test_wrong_or_missing_key_never_reaches_chromedriver(client: Browserbase, sserver: RunningServer) -> None:
    session = client.sessions.create(keep_alive=True)
    browser = live(sserver, session.id)
    assert browser.webdriver is not None
    url = session.selenium_remote_url
    new_session = {"capabilities": {"alwaysMatch": {"browserName": "chrome"}}}
    refused = [
        httpx.post(f"{url}/session", json=new_session, timeout=10),
        httpx.post(f"{url}/session", json=new_session, headers={"x-bb-signing-key": "wrong"}, timeout=10),
        httpx.get(f"{url}/status", headers={"Authorization": "Bearer wrong"}, timeout=10),
        httpx.get(f"{url}/key/wrong/status", timeout=10),
        httpx.get(f"{url}/status?signingKey=wrong", timeout=10),
    ]
    for response in refused:
        assert response.status_code == 401, response.text
        body = response.json()
        assert body["statusCode"] == 401 and body["error"] == "Unauthorized"
        assert body["value"]["message"] == "Missing or invalid signing key"
    with pytest.raises(WebDriverException, match="Authorization Required"):
        attach(url, extra_headers={"x-bb-signing-key": session.signing_key + "x"})
    missing = httpx.get(
        url.replace(session.id, "no-such-session") + "/status",
        headers={"x-bb-signing-key": session.signing_key},
        timeout=10,
    )
    assert missing.status_code == 404 and missing.json()["value"]["error"] == "invalid session id"
    assert browser.webdriver.pid is None  # none of that started (or reached) chromedriver

    # the key's other accepted forms: query, Basic auth (key as password), path prefix, Bearer
    status = httpx.get(f"{url}/status", params={"signingKey": session.signing_key}, timeout=10)
    assert status.status_code == 200 and status.json()["value"]["ready"] is True
    basic = base64.b64encode(f"selenium:{session.signing_key}".encode()).decode()
    unknown = httpx.get(f"{url}/session/nope/url", headers={"Authorization": f"Basic {basic}"}, timeout=10)
    assert (
        unknown.status_code == 404 and unknown.json()["value"]["error"] == "invalid session id"
    )  # chromedriver's
    driver = attach(f"{url}/key/{session.signing_key}")
    try:
        driver.get("data:text/html,<title>path key</title>")
        assert driver.title == "path key"
    finally:
        driver.quit()
    driver = attach(url, auth_type=AuthType.BEARER, token=session.signing_key)
    try:
        assert driver.title == "path key"  # same browser, same tab
    finally:
        driver.quit()
    client.sessions.update(session.id, status="REQUEST_RELEASE")


def test_webdriver_client_counts_for_the_grace_period(client: Browserbase, sserver: RunningServer) -> None:
    session = client.sessions.create()  # no keepAlive
    browser = live(sserver, session.id)
    assert browser.webdriver is not None
    driver = attach(session.selenium_remote_url, extra_headers={"x-bb-signing-key": session.signing_key})
    chromedriver_pid = browser.webdriver.pid
    assert chromedriver_pid is not None
    try:
        driver.get("data:text/html,<title>attached</title>")
        with sync_playwright() as pw:  # a CDP client comes and goes while Selenium stays attached
            pw.chromium.connect_over_cdp(session.connect_url, timeout=15000).close()
        assert browser.connections == 2 and browser.clients == 1
        time.sleep(GRACE_S + 0.5)  # Selenium still counts as a client: no grace period runs
        assert client.sessions.retrieve(session.id).status == "RUNNING"
        assert driver.title == "attached"
    finally:
        driver.quit()
    ended = wait_status(sserver, client.api_key, session.id, {"COMPLETED"}, timeout=GRACE_S + 10)
    assert ended["endedAt"] is not None
    assert process_gone(chromedriver_pid) and process_gone(browser.pid)


def test_missing_chromedriver_is_503(harness: FleetHarness, tmp_path: Path) -> None:
    server = harness.server(chromedriver_path=tmp_path / "no-chromedriver")
    try:
        client = Browserbase(api_key=harness.new_key(server), base_url=server.url)
        session = client.sessions.create()
        response = httpx.get(
            f"{session.selenium_remote_url}/status",
            headers={"x-bb-signing-key": session.signing_key},
            timeout=10,
        )
        assert response.status_code == 503
        assert "chromedriver not found" in response.json()["message"]
        assert client.sessions.update(session.id, status="REQUEST_RELEASE").status == "COMPLETED"
    finally:
        harness.stop_server(server)
