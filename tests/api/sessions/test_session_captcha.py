"""``browserSettings.solveCaptchas``: the node solves captchas in pages the client drives.

A real server with the solver stand-in (tests/support/captcha_solver.py); the client only opens a
test-site captcha page with Playwright over ``connect_url`` and waits for the console message
Browserbase clients wait for. The site's server checks the token came from the solver.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from browserbase import Browserbase
from playwright.sync_api import ConsoleMessage, sync_playwright

from tests.support.captcha_solver import SOLVER_KEY, SolverStandIn
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("sessions")]


@pytest.fixture(scope="module")
def solving_server(harness: FleetHarness, solver_stand_in_server: SolverStandIn) -> RunningServer:
    running = harness.server(
        session_slots=2,
        captcha_solver_url=solver_stand_in_server.url,
        captcha_solver_key=SOLVER_KEY,
        captcha_poll_interval_s=0.05,
        captcha_timeout_s=5.0,
    )
    yield running  # type: ignore[misc]
    harness.stop_server(running)


def site_counts(site_url: str, tag: str) -> dict[str, int]:
    body = httpx.get(f"{site_url}/captcha/verified", params={"t": tag}).json()
    return {"verified": body["verified"], "rejected": body["rejected"]}


def open_captcha_page(server: RunningServer, key: str, url: str, **settings: object) -> tuple[list[str], str]:
    """Open ``url`` in a new session; the browserbase-* console messages and ``#verified``."""
    client = Browserbase(api_key=key, base_url=server.url)  # type: ignore[arg-type]
    session = client.sessions.create(browser_settings=settings)  # type: ignore[arg-type]
    messages: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(session.connect_url)
            page = browser.contexts[0].pages[0]

            def collect(message: ConsoleMessage) -> None:
                if message.text.startswith("browserbase-solving"):
                    messages.append(message.text)

            page.on("console", collect)
            if settings.get("solveCaptchas", True):
                with page.expect_console_message(
                    lambda m: m.text == "browserbase-solving-finished", timeout=15_000
                ):
                    page.goto(url)
                page.wait_for_function(
                    "document.querySelector('#verified').textContent !== ''", timeout=10_000
                )
            else:
                page.goto(url)
                page.wait_for_timeout(1000)
            verified = page.inner_text("#verified")
            browser.close()
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")
    return messages, verified


@pytest.mark.parametrize("path", ["/captcha/recaptcha-v2", "/captcha/turnstile"])
def test_a_captcha_in_a_client_driven_page_is_solved(
    harness: FleetHarness, solving_server: RunningServer, stand_in: SolverStandIn, site_url: str, path: str
) -> None:
    tag = uuid.uuid4().hex
    messages, verified = open_captcha_page(
        solving_server, harness.new_key(solving_server), f"{site_url}{path}?t={tag}"
    )
    assert messages == ["browserbase-solving-started", "browserbase-solving-finished"]
    assert verified == "ok"  # the page's callback posted the injected token
    assert site_counts(site_url, tag) == {"verified": 1, "rejected": 0}
    (task,) = stand_in.tasks.values()
    assert task.task["websiteURL"].startswith(f"{site_url}{path}")


def test_solve_captchas_false_leaves_the_page_alone(
    harness: FleetHarness, solving_server: RunningServer, stand_in: SolverStandIn, site_url: str
) -> None:
    tag = uuid.uuid4().hex
    url = f"{site_url}/captcha/recaptcha-v2?t={tag}"
    messages, verified = open_captcha_page(
        solving_server, harness.new_key(solving_server), url, solveCaptchas=False
    )
    assert messages == [] and verified == ""
    assert stand_in.tasks == {}
    assert site_counts(site_url, tag) == {"verified": 0, "rejected": 0}
