"""Live view (docs/sessions.md "Live view"): ``GET /v1/sessions/{id}/debug`` and what its URLs open.

A real session (official ``browserbase`` SDK), driven by Playwright over ``connect_url`` on the
test site's ``/live-view`` page (a crimson block, a button that turns it blue). The viewer
(``debuggerFullscreenUrl``) is opened in a separate headless Chromium launched by the test, at a
different window size than the session's page (so the canvas is scaled): its canvas shows the
block's colour, a click, typing and a wheel sent through it change the session's page, its tabs
follow the session's pages. The DevTools frontend (``debuggerUrl``) loads through the proxy and its
WebSocket reaches the page. Without the key, with a wrong or expired one, nothing opens.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from browserbase import Browserbase, ConflictError, NotFoundError
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from browserfleet.core.sessions.live_tokens import mint_token
from browserfleet.settings import CHROMIUM_FLAGS
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.sessions import sdk, wait_status

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("live_view")]
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
CRIMSON, BLUE = (220, 20, 60), (30, 144, 255)
BUTTON = (200, 100)  # centre of #toggle on /live-view, CSS pixels of the session's page
FIELD = (200, 220)  # inside #field
BLOCK = (900, 450)  # the block, away from the button, the field and the ticker


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"session_grace_s": 1.0}


@pytest.fixture(scope="module")
def pw() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def viewer_browser(pw: Playwright) -> Iterator[Browser]:
    """The viewer's own browser: not the session's, as a person's would be."""
    browser = pw.chromium.launch(executable_path=HEADLESS_SHELL, args=list(CHROMIUM_FLAGS))
    yield browser
    browser.close()


def poll(page: Page, expression: str, timeout: float = 15.0) -> Any:
    """``page.evaluate(expression)`` until truthy (the viewer's CSP forbids wait_for_function's eval)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value or time.monotonic() > deadline:
            assert value, f"timed out waiting for {expression}"
            return value
        time.sleep(0.05)


def canvas_pixel(viewer: Page, x: float, y: float) -> tuple[int, int, int]:
    """The colour the viewer's canvas shows at the session page's CSS point (x, y)."""
    rgb = viewer.evaluate(
        """([x, y]) => {
            const canvas = document.getElementById('screen'), meta = window.__liveView.metadata;
            const px = Math.floor(x * canvas.width / meta.deviceWidth);
            const py = Math.floor(y * canvas.height / meta.deviceHeight);
            return Array.from(canvas.getContext('2d').getImageData(px, py, 1, 1).data.slice(0, 3));
        }""",
        [x, y],
    )
    return (rgb[0], rgb[1], rgb[2])


def screen_point(viewer: Page, x: float, y: float) -> tuple[float, float]:
    """Where the session page's CSS point (x, y) is drawn in the viewer's window."""
    point = viewer.evaluate(
        """([x, y]) => {
            const canvas = document.getElementById('screen'), meta = window.__liveView.metadata;
            const box = canvas.getBoundingClientRect();
            const scale = Math.min(box.width / canvas.width, box.height / canvas.height);
            const w = canvas.width * scale, h = canvas.height * scale;
            return [box.left + (box.width - w) / 2 + x / meta.deviceWidth * w,
                    box.top + (box.height - h) / 2 + y / meta.deviceHeight * h];
        }""",
        [x, y],
    )
    return (point[0], point[1])


def near(rgb: tuple[int, int, int], expected: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, expected, strict=True))


def wait_pixel(viewer: Page, point: tuple[int, int], colour: tuple[int, int, int]) -> None:
    deadline = time.monotonic() + 15
    while not near(rgb := canvas_pixel(viewer, *point), colour):
        assert time.monotonic() < deadline, f"canvas shows {rgb} at {point}, expected about {colour}"
        time.sleep(0.05)


def status(page: Page, url: str) -> int:
    """Open ``url`` in ``page``; the HTTP status of the document."""
    response = page.goto(url)
    assert response is not None
    return response.status


def refused(url: str) -> int:
    """The HTTP status a WebSocket handshake to ``url`` got (it must not be accepted)."""
    with pytest.raises(InvalidStatus) as info, ws_connect(url, open_timeout=10):
        pass
    return info.value.response.status_code


def ws_of(viewer_url: str) -> str:
    parts = urlsplit(viewer_url)
    return f"ws://{parts.netloc}{parts.path}/ws?{parts.query}"


@contextlib.contextmanager
def on_live_view(client: Browserbase, pw: Playwright, site_url: str) -> Iterator[tuple[Any, Browser, Page]]:
    """A session, Playwright over its ``connect_url``, its first page on /live-view."""
    session = client.sessions.create()
    browser = pw.chromium.connect_over_cdp(session.connect_url)
    try:
        page = browser.contexts[0].pages[0]
        page.goto(f"{site_url}/live-view")
        yield session, browser, page
    finally:
        browser.close()


@contextlib.contextmanager
def kept_alive(client: Browserbase) -> Iterator[Any]:
    """A ``keepAlive`` session, released at the end."""
    session = client.sessions.create(keep_alive=True)
    try:
        yield session
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")


def test_viewer_shows_the_page_and_sends_input_back(
    sserver: RunningServer, key: str, site_url: str, pw: Playwright, viewer_browser: Browser
) -> None:
    client = sdk(sserver, key)
    with on_live_view(client, pw, site_url) as (session, _, page):
        debug = client.sessions.debug(session.id)
        assert debug.ws_url == session.connect_url
        [entry] = [p for p in debug.pages if p.url == f"{site_url}/live-view"]
        assert entry.title == "Live view test"
        assert debug.debugger_fullscreen_url == entry.debugger_fullscreen_url
        assert entry.debugger_fullscreen_url.startswith(f"{sserver.url}/v1/sessions/{session.id}/live?")
        query = parse_qs(urlsplit(entry.debugger_fullscreen_url).query)
        assert query == {"signingKey": [session.signing_key], "pageId": [entry.id]}

        context = viewer_browser.new_context(viewport={"width": 900, "height": 560})
        viewer = context.new_page()
        assert status(viewer, entry.debugger_fullscreen_url) == 200
        poll(viewer, "window.__liveView.frames > 0")
        assert viewer.evaluate("window.__liveView.pageId") == entry.id
        meta = viewer.evaluate("window.__liveView.metadata")
        assert [round(meta["deviceWidth"]), round(meta["deviceHeight"])] == page.evaluate(
            "[innerWidth, innerHeight]"
        )
        assert near(canvas_pixel(viewer, *BLOCK), CRIMSON), canvas_pixel(viewer, *BLOCK)

        # a click through the viewer (its canvas is scaled: 900 px wide for a 1280 px page)
        viewer.mouse.click(*screen_point(viewer, *BUTTON))
        page.wait_for_function("document.getElementById('state').dataset.clicks === '1'", timeout=10000)
        assert page.text_content("#state") == "clicked 1"
        wait_pixel(viewer, BLOCK, BLUE)  # and the viewer shows the repaint

        # keyboard: focus the field through the viewer, then type into it
        viewer.mouse.click(*screen_point(viewer, *FIELD))
        page.wait_for_function("document.activeElement.id === 'field'", timeout=10000)
        viewer.keyboard.type("Hi, live 1!")
        viewer.keyboard.press("Backspace")
        page.wait_for_function("document.getElementById('field').value === 'Hi, live 1'", timeout=10000)

        # scroll: the wheel over the canvas scrolls the session's page
        viewer.mouse.move(*screen_point(viewer, *BLOCK))
        viewer.mouse.wheel(0, 600)
        page.wait_for_function("window.scrollY > 100", timeout=10000)
        context.close()


def test_viewer_tabs_follow_the_session_pages(
    sserver: RunningServer, key: str, site_url: str, pw: Playwright, viewer_browser: Browser
) -> None:
    client = sdk(sserver, key)
    with on_live_view(client, pw, site_url) as (session, browser, _):
        viewer = viewer_browser.new_page()
        viewer.goto(client.sessions.debug(session.id).debugger_fullscreen_url)
        poll(viewer, "window.__liveView.frames > 0")
        first_id = viewer.evaluate("window.__liveView.pageId")

        second = browser.new_context().new_page()  # a page of another context is a tab too
        second.goto(f"{site_url}/click")
        pages = poll(viewer, "window.__liveView.pages.length === 2 && window.__liveView.pages")
        [second_id] = [p["id"] for p in pages if p["id"] != first_id]
        poll(viewer, f"window.__liveView.pages.some(p => p.id === '{second_id}' && p.title === 'Click test')")
        assert viewer.evaluate("window.__liveView.active") == first_id  # it stays on its page

        viewer.click(f"#tabs button[data-page-id='{second_id}']")
        poll(viewer, f"window.__liveView.pageId === '{second_id}'")
        assert viewer.evaluate("window.__liveView.active") == second_id
        assert canvas_pixel(viewer, 600, 600) == (255, 255, 255)  # /click: a white page
        viewer.mouse.click(*screen_point(viewer, 600, 600))  # input goes to the page shown now
        assert second.evaluate("document.hasFocus()")

        second.close()  # the page shown closes: the viewer moves to the one left
        poll(viewer, f"window.__liveView.active === '{first_id}' && window.__liveView.pages.length === 1")
        poll(viewer, f"window.__liveView.pageId === '{first_id}'")
        viewer.close()


def test_nothing_opens_without_the_key(sserver: RunningServer, key: str, viewer_browser: Browser) -> None:
    client = sdk(sserver, key)
    with kept_alive(client) as session:
        debug = client.sessions.debug(session.id)
        viewer_url = debug.debugger_fullscreen_url
        base = viewer_url.split("?")[0]
        for url in (base, f"{base}?signingKey=wrong", f"{base}?signingKey={session.signing_key}x"):
            response = httpx.get(url, timeout=10)
            assert response.status_code == 401, response.text
            assert response.json()["message"] == "Missing or invalid signing key"
            assert refused(ws_of(url)) == 403

        # the viewer in a real browser: the page is refused, no frame is ever drawn
        viewer = viewer_browser.new_page()
        assert status(viewer, f"{base}?signingKey=wrong") == 401
        assert viewer.evaluate("typeof window.__liveView") == "undefined"
        assert status(viewer, viewer_url) == 200
        poll(viewer, "window.__liveView.frames > 0")
        viewer.close()

        # DevTools: files and WebSocket with a wrong key in the path
        wrong = debug.debugger_url.replace(session.signing_key, "wrong")
        assert session.signing_key not in wrong
        assert httpx.get(wrong, timeout=10).status_code == 401
        ws_target = parse_qs(urlsplit(wrong).query)["ws"][0]
        assert refused(f"ws://{ws_target}") == 403
        # a session id that is not running on this server: 404, and 403 at the handshake
        assert httpx.get(viewer_url.replace(session.id, "ses_nope"), timeout=10).status_code == 404
        assert refused(ws_of(viewer_url.replace(session.id, "ses_nope"))) == 403


def test_devtools_frontend_through_the_proxy(
    sserver: RunningServer, key: str, site_url: str, pw: Playwright
) -> None:
    client = sdk(sserver, key)
    with kept_alive(client) as session:
        browser = pw.chromium.connect_over_cdp(session.connect_url)
        browser.contexts[0].pages[0].goto(f"{site_url}/live-view")
        browser.close()  # keepAlive: the page stays
        debug = client.sessions.debug(session.id)
        [entry] = [p for p in debug.pages if p.url == f"{site_url}/live-view"]
        target = entry.id
        assert debug.debugger_url == entry.debugger_url
        prefix = f"{sserver.url}/v1/sessions/{session.id}/devtools/{session.signing_key}/"
        assert entry.debugger_url.startswith(f"{prefix}inspector.html?ws=")
        ws_target = parse_qs(urlsplit(entry.debugger_url).query)["ws"][0]
        assert ws_target == f"{prefix.split('://')[1]}page/{target}"

        inspector = httpx.get(entry.debugger_url, timeout=10)
        assert inspector.status_code == 200 and inspector.headers["content-type"].startswith("text/html")
        assert (
            "<title>DevTools</title>" in inspector.text
            and "entrypoints/inspector/inspector.js" in inspector.text
        )
        script = httpx.get(f"{prefix}entrypoints/inspector/inspector.js", timeout=10)
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert (
            httpx.get(f"{prefix}..%2Fjson%2Flist", timeout=10).status_code == 404
        )  # no way out of /devtools/

        with ws_connect(f"ws://{ws_target}", max_size=None, open_timeout=10) as frontend:
            expression = "document.title + '|' + location.pathname"
            frontend.send(
                json.dumps(
                    {
                        "id": 1,
                        "method": "Runtime.evaluate",
                        "params": {"expression": expression, "returnByValue": True},
                    }
                )
            )
            assert _answer(frontend, 1)["result"]["value"] == "Live view test|/live-view"
        assert refused(f"ws://{ws_target.replace(session.signing_key, 'wrong')}") == 403
        assert refused(f"ws://{ws_target.rsplit('/', 2)[0]}/worker/{target}") == 403  # page|browser only


def test_expiring_urls_carry_a_token_not_the_key(sserver: RunningServer, key: str, site_url: str) -> None:
    client = sdk(sserver, key)
    with kept_alive(client) as session:
        debug = client.sessions.debug(session.id, expires_in=600)
        urls = [debug.debugger_fullscreen_url, debug.debugger_url, debug.ws_url]
        urls += [u for p in debug.pages for u in (p.debugger_url, p.debugger_fullscreen_url)]
        assert all(session.signing_key not in url for url in urls), urls
        token = parse_qs(urlsplit(debug.debugger_fullscreen_url).query)["token"][0]
        expires, _, _ = token.partition(".")
        assert 590 <= int(expires) - time.time() <= 610

        assert httpx.get(debug.debugger_fullscreen_url, timeout=10).status_code == 200
        assert httpx.get(debug.debugger_url, timeout=10).status_code == 200
        with ws_connect(debug.ws_url, max_size=None, open_timeout=10) as cdp:  # wsUrl: CDP with the token
            cdp.send(json.dumps({"id": 1, "method": "Browser.getVersion"}))
            assert "Chrome" in _answer(cdp, 1)["product"]

        base = debug.debugger_fullscreen_url.split("?")[0]
        expired = mint_token(session.signing_key, session.id, 60, now=time.time() - 120)
        tampered = f"{int(expires) + 3600}.{token.partition('.')[2]}"
        other_session = mint_token(session.signing_key, "ses_other", 600)
        for bad in (expired, tampered, other_session):
            assert httpx.get(f"{base}?token={bad}", timeout=10).status_code == 401
            assert refused(ws_of(f"{base}?token={bad}")) == 403


def test_debug_is_project_scoped_and_needs_a_running_session(
    harness: FleetHarness, sserver: RunningServer, key: str
) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True)
    viewer_url = client.sessions.debug(session.id).debugger_fullscreen_url
    with pytest.raises(NotFoundError):
        sdk(sserver, harness.new_key(sserver)).sessions.debug(session.id)
    with pytest.raises(NotFoundError):
        client.sessions.debug("ses_does_not_exist")

    client.sessions.update(session.id, status="REQUEST_RELEASE")
    wait_status(sserver, key, session.id, {"COMPLETED"})
    with pytest.raises(ConflictError) as info:
        client.sessions.debug(session.id)
    assert "not running" in str(info.value)
    assert httpx.get(viewer_url, timeout=10).status_code == 404  # its URLs are dead with it


def _answer(ws: Any, message_id: int) -> dict[str, Any]:
    """The result of command ``message_id`` (events before it are skipped)."""
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message.get("id") == message_id:
            assert "error" not in message, message
            result: dict[str, Any] = message["result"]
            return result
