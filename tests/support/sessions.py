"""Helpers for Sessions API tests: the SDK client, waiting for a status, releasing, Playwright over
CDP, the live session's browser, CDP targets."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
from browserbase import Browserbase
from playwright.sync_api import Browser, sync_playwright

from browserfleet.node.session.live import LiveSession
from tests.support.fleet import RunningServer


def sdk(server: RunningServer, key: str) -> Browserbase:
    """The official SDK on ``server`` with ``key``."""
    return Browserbase(api_key=key, base_url=server.url)


def get_session(server: RunningServer, key: str, session_id: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/v1/sessions/{session_id}", headers={"X-BB-API-Key": key}, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_status(
    server: RunningServer, key: str, session_id: str, statuses: set[str], timeout: float = 20
) -> dict[str, Any]:
    """Poll ``GET /v1/sessions/{id}`` until its status is one of ``statuses``; the body."""
    deadline = time.monotonic() + timeout
    while True:
        body = get_session(server, key, session_id)
        if body["status"] in statuses or time.monotonic() > deadline:
            assert body["status"] in statuses, body
            return body
        time.sleep(0.1)


def release(client: Browserbase, server: RunningServer, key: str, session_id: str) -> None:
    """Ask to release the session and wait until it has ended."""
    client.sessions.update(session_id, status="REQUEST_RELEASE")
    wait_status(server, key, session_id, {"COMPLETED"})


@contextlib.contextmanager
def cdp_browser(connect_url: str) -> Iterator[Browser]:
    """Playwright attached to a session over ``connect_url``, disconnected at the end."""
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(connect_url, timeout=15000)
        try:
            yield browser
        finally:
            browser.close()


def live(server: RunningServer, session_id: str) -> LiveSession:
    session = server.fleet.live_sessions.get(session_id)
    assert session is not None, f"{session_id} is not live on {server.url}"
    return session


def page_targets(session: LiveSession) -> list[str]:
    """Ids of the browser's page targets, asked directly (not through the proxy)."""
    targets = httpx.get(f"{session.http_url}/json/list", timeout=5, trust_env=False).json()
    return sorted(t["id"] for t in targets if t.get("type") == "page")


def process_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False
