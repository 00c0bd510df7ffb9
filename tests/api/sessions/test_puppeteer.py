"""Puppeteer (npm ``puppeteer-core``) attaches to a session over its ``connectUrl``.

The session is created with the official ``browserbase`` SDK; ``tests/js/puppeteer_connect.mjs``
(run with ``node``) calls ``puppeteer.connect({browserWSEndpoint: connectUrl})``, opens a page on
the local test site, reads the DOM and disconnects, printing JSON. ``make install`` installs
``puppeteer-core`` into ``tests/js/node_modules`` (``npm ci`` from the pinned lock); the core package
never downloads a browser, and the machine is offline, so the only socket it opens is the connect URL.
"""

from __future__ import annotations

from typing import Any

import pytest
from browserbase import Browserbase

from tests.support.fleet import RunningServer
from tests.support.puppeteer import run_script
from tests.support.sessions import live, page_targets, process_gone, wait_status

pytestmark = pytest.mark.browser
SCRIPT = "puppeteer_connect.mjs"


def run_puppeteer(connect_url: str, page_url: str) -> dict[str, Any]:
    return run_script(SCRIPT, connect_url, page_url)


def test_puppeteer_connects_reads_and_disconnects(server: RunningServer, api_key: str, site_url: str) -> None:
    client = Browserbase(api_key=api_key, base_url=server.url)
    session = client.sessions.create(keep_alive=True, browser_settings={"os": "mac"})
    assert session.status == "RUNNING"
    browser = live(server, session.id)
    try:
        result = run_puppeteer(session.connect_url, f"{site_url}/js-content")
        assert result["skus"] == [f"SKU-{n:03d}" for n in range(1, 21)]
        assert result["apiText"].replace(" ", "") == "Alpha,Beta,Gamma"
        assert result["url"] == f"{site_url}/js-content"
        assert result["version"].startswith("HeadlessChrome/")
        assert "Macintosh" in result["userAgent"]  # the session's os reached the browser Puppeteer drove
        assert result["pagesBefore"] >= 1  # the session's own about:blank tab was visible to it
        assert browser.connections == 1

        # Puppeteer disconnected (not closed): the keepAlive session and its browser live on, and
        # the page it opened was closed by the script, leaving the original tab.
        assert browser.clients == 0
        assert client.sessions.retrieve(session.id).status == "RUNNING"
        assert len(page_targets(browser)) == result["pagesBefore"]

        # a second Puppeteer client after the first one left (reconnect)
        again = run_puppeteer(session.connect_url, f"{site_url}/js-content")
        assert again["skus"] == result["skus"]
        assert browser.connections == 2
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")
    ended = wait_status(server, api_key, session.id, {"COMPLETED"})
    assert ended["endedAt"] is not None and ended["proxyBytes"] > 1000
    assert process_gone(browser.pid)


def test_puppeteer_with_a_wrong_key_is_refused(server: RunningServer, api_key: str, site_url: str) -> None:
    client = Browserbase(api_key=api_key, base_url=server.url)
    session = client.sessions.create(keep_alive=True)
    browser = live(server, session.id)
    try:
        forged = session.connect_url.replace(session.signing_key, "0" * len(session.signing_key))
        assert forged != session.connect_url
        assert "error" in run_script(SCRIPT, forged, f"{site_url}/js-content", exit_code=1)
        assert browser.connections == 0  # refused before reaching the browser
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")
