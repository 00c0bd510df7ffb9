"""``browserSettings.solveCaptchas``: the node solves captchas in pages the client drives.

A real server with the solver stand-in (tests/support/captcha_solver.py); the client only opens a
test-site captcha page with Playwright over ``connect_url`` and waits for the console message
Browserbase clients wait for. The site's server checks the token came from the solver. Image
captchas (``captchaImageSelector`` + ``captchaInputSelector``): the solver is sent the element's
pixels as an ``ImageToTextTask`` and its answer is typed into the input, which the site accepts.
"""

from __future__ import annotations

import base64
import uuid

import httpx
import pytest
from browserbase import Browserbase
from playwright.sync_api import ConsoleMessage, sync_playwright

from tests.support.captcha_solver import SOLVER_KEY, SolverStandIn
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.png import decode_png

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("sessions")]


@pytest.fixture(scope="module")
def server_settings(solver_stand_in_server: SolverStandIn) -> dict[str, object]:
    return {
        "session_slots": 2,
        "captcha_solver_url": solver_stand_in_server.url,
        "captcha_solver_key": SOLVER_KEY,
        "captcha_poll_interval_s": 0.05,
        "captcha_timeout_s": 5.0,
    }


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
    harness: FleetHarness, sserver: RunningServer, stand_in: SolverStandIn, site_url: str, path: str
) -> None:
    tag = uuid.uuid4().hex
    messages, verified = open_captcha_page(sserver, harness.new_key(sserver), f"{site_url}{path}?t={tag}")
    assert messages == ["browserbase-solving-started", "browserbase-solving-finished"]
    assert verified == "ok"  # the page's callback posted the injected token
    assert site_counts(site_url, tag) == {"verified": 1, "rejected": 0}
    (task,) = stand_in.tasks.values()
    assert task.task["websiteURL"].startswith(f"{site_url}{path}")


def test_solve_captchas_false_leaves_the_page_alone(
    harness: FleetHarness, sserver: RunningServer, stand_in: SolverStandIn, site_url: str
) -> None:
    tag = uuid.uuid4().hex
    url = f"{site_url}/captcha/recaptcha-v2?t={tag}"
    messages, verified = open_captcha_page(sserver, harness.new_key(sserver), url, solveCaptchas=False)
    assert messages == [] and verified == ""
    assert stand_in.tasks == {}
    assert site_counts(site_url, tag) == {"verified": 0, "rejected": 0}


# ---------------------------------------------------------------- image (text) captchas

IMAGE_SELECTORS = {"captchaImageSelector": "#captcha-img", "captchaInputSelector": "#captcha-text"}
CANVAS_BACKGROUND = (0xFF, 0xEC, 0xB3)  # tests/site/pages/captcha-image.html
CANVAS_INK = (0x1A, 0x23, 0x7E)


def open_image_captcha_page(
    server: RunningServer, key: str, url: str, *, expect: str | None, **settings: object
) -> dict[str, object]:
    """Open ``url`` in a new session, wait for the console message ``expect`` (or 1 s when None),
    then submit the form: the console messages, the input's value and events, the img's size."""
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
            if expect is not None:
                with page.expect_console_message(lambda m: m.text == expect, timeout=15_000):
                    page.goto(url)
            else:
                page.goto(url)
                page.wait_for_timeout(1000)
            seen: dict[str, object] = page.evaluate(
                """() => ({value: document.querySelector('#captcha-text').value,
                          events: document.querySelector('#input-events').textContent,
                          dpr: devicePixelRatio,
                          box: document.querySelector('#captcha-img').getBoundingClientRect().toJSON()})"""
            )
            page.click("#submit")
            page.wait_for_function("document.querySelector('#verified').textContent !== ''", timeout=10_000)
            seen["verified"] = page.inner_text("#verified")
            browser.close()
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")
    return {"messages": messages, **seen}


def test_an_image_captcha_is_read_by_the_solver_and_typed_into_the_input(
    harness: FleetHarness, sserver: RunningServer, stand_in: SolverStandIn, site_url: str
) -> None:
    tag = uuid.uuid4().hex
    code = httpx.post(f"{site_url}/captcha/image/code", params={"t": tag}).json()["code"]
    stand_in.image_answer = code  # what the service's worker reads in the picture
    url = f"{site_url}/captcha/image?t={tag}&offset=1500"  # below the fold: scrolled into view
    seen = open_image_captcha_page(
        sserver,
        harness.new_key(sserver),
        url,
        expect="browserbase-solving-finished",
        **IMAGE_SELECTORS,
    )
    assert seen["messages"] == ["browserbase-solving-started", "browserbase-solving-finished"]
    assert seen["value"] == code and seen["events"] == "input,change"
    assert seen["verified"] == "ok"  # the site's server accepted the typed answer
    assert site_counts(site_url, tag) == {"verified": 1, "rejected": 0}

    (task,) = stand_in.created()
    assert task["type"] == "ImageToTextTask" and task["websiteURL"] == url
    image = decode_png(base64.b64decode(task["body"], validate=True))  # clean base64, no data: prefix
    box, dpr = seen["box"], seen["dpr"]
    assert isinstance(box, dict) and isinstance(dpr, (int, float))
    assert (image.width, image.height) == (round(box["width"] * dpr), round(box["height"] * dpr))
    # the element's own pixels: the canvas background at its corners, its ink in between
    corners = [(1, 1), (image.width - 2, 1), (1, image.height - 2), (image.width - 2, image.height - 2)]
    assert all(near(image.pixel(x, y), CANVAS_BACKGROUND) for x, y in corners)
    pixels = [image.pixel(x, y) for y in range(image.height) for x in range(image.width)]
    assert sum(near(p, CANVAS_INK) for p in pixels) > 100


def test_an_unreadable_image_captcha_fails_and_leaves_the_input_alone(
    harness: FleetHarness, sserver: RunningServer, stand_in: SolverStandIn, site_url: str
) -> None:
    tag = uuid.uuid4().hex
    stand_in.image_answer = None  # the service answers ERROR_CAPTCHA_UNSOLVABLE
    seen = open_image_captcha_page(
        sserver,
        harness.new_key(sserver),
        f"{site_url}/captcha/image?t={tag}",
        expect="browserbase-solving-failed",
        **IMAGE_SELECTORS,
    )
    assert seen["messages"] == ["browserbase-solving-started", "browserbase-solving-failed"]
    assert seen["value"] == "" and seen["events"] == ""
    assert [t["type"] for t in stand_in.created()] == ["ImageToTextTask"]  # it was asked
    assert seen["verified"] == "rejected"
    assert site_counts(site_url, tag) == {"verified": 0, "rejected": 1}


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"captchaImageSelector": "#captcha-img"},  # without an input to type into
        {**IMAGE_SELECTORS, "solveCaptchas": False},
    ],
    ids=["no-selectors", "image-selector-only", "solve-captchas-false"],
)
def test_an_image_captcha_is_left_alone_without_both_selectors_or_with_solving_off(
    harness: FleetHarness,
    sserver: RunningServer,
    stand_in: SolverStandIn,
    site_url: str,
    settings: dict[str, object],
) -> None:
    tag = uuid.uuid4().hex
    stand_in.image_answer = httpx.post(f"{site_url}/captcha/image/code", params={"t": tag}).json()["code"]
    seen = open_image_captcha_page(
        sserver,
        harness.new_key(sserver),
        f"{site_url}/captcha/image?t={tag}",
        expect=None,
        **settings,
    )
    assert seen["messages"] == [] and seen["value"] == "" and seen["events"] == ""
    assert stand_in.requests == []
    assert site_counts(site_url, tag) == {"verified": 0, "rejected": 1}


def near(pixel: tuple[int, int, int, int], rgb: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], rgb, strict=True))
