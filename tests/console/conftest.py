"""Console fixtures: one Chromium per test module (Playwright's sync API holds an event loop while
it runs, which the asyncio tests that follow in the same worker must not find), a page per test, a
project key on the shared default server, and a signed-in page.

The console is driven as a person would: its forms, its links, its islands of JavaScript. The
console's CSP forbids ``eval``, so waiting on a page condition goes through :func:`poll`
(``page.evaluate`` runs over CDP, outside the page's CSP).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from browserfleet.settings import CHROMIUM_FLAGS
from tests.support.fleet import FleetHarness, RunningServer

HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"


@pytest.fixture(scope="module")
def pw() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def console_browser(pw: Playwright) -> Iterator[Browser]:
    """The person's browser: not one of the fleet's."""
    browser = pw.chromium.launch(executable_path=HEADLESS_SHELL, args=list(CHROMIUM_FLAGS))
    yield browser
    browser.close()


@pytest.fixture
def page(console_browser: Browser) -> Iterator[Page]:
    context = console_browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


@pytest.fixture
def cserver(server: RunningServer) -> RunningServer:
    """The server the console tests use (the shared default one)."""
    return server


@pytest.fixture
def key(harness: FleetHarness, cserver: RunningServer) -> str:
    return harness.new_key(cserver)


@pytest.fixture
def signed_in(page: Page, cserver: RunningServer, key: str) -> Page:
    sign_in(page, cserver, key)
    return page


def sign_in(page: Page, server: RunningServer, key: str) -> None:
    page.goto(f"{server.url}/console/signin")
    page.fill("#key", key)
    page.click("#signin")
    page.wait_for_url(f"{server.url}/console/")


def api(server: RunningServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def poll(page: Page, expression: str, timeout: float = 20.0, arg: Any = None) -> Any:
    """``page.evaluate(expression, arg)`` until truthy (across the page reloading itself)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = page.evaluate(expression, arg)
        except PlaywrightError as exc:  # the page navigated (a live page reloads itself)
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
            value = None
        if value or time.monotonic() > deadline:
            assert value, f"timed out waiting for {expression}"
            return value
        time.sleep(0.1)


def render_now(server: RunningServer, key: str, url: str, **options: Any) -> str:
    """A finished render of ``url`` made through the API: its id."""
    with api(server, key) as client:
        created = client.post("/v1/renders", json={"url": url, **options})
        assert created.status_code == 201, created.text
        render_id: str = created.json()["renderId"]
        done = client.get(f"/v1/renders/{render_id}", params={"wait": 60})
        assert done.status_code in (200, 422), done.text
    return render_id
