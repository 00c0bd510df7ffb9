"""Screenshots of every web console page for docs/console.md, taken against the local test site.

Starts the test site, an LLM stand-in (for the browsing agent) and a browserfleet server (embedded,
in this process, with an admin key), makes something of each kind through the API and the console
(renders, a session, an automation task and its run, a browsing task), then drives the console in
Chromium and saves one PNG per page under docs/console/. Rerun it after changing a page:

    .venv/bin/python scripts/console_screenshots.py [--out docs/console]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from playwright.sync_api import Page, Playwright, sync_playwright  # noqa: E402

from browserfleet.settings import CHROMIUM_FLAGS  # noqa: E402
from tests.site.server import SiteServer  # noqa: E402
from tests.support.fleet import FleetHarness, RunningServer  # noqa: E402
from tests.support.llm_standin import LLM_KEY, LLMStandIn, call  # noqa: E402

HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
ADMIN_KEY = "docs-admin-key-0123456789abcdef"
VIEWPORT = {"width": 1280, "height": 860}


def wait_until(page: Page, expression: str, timeout: float = 60.0) -> None:
    """``page.evaluate(expression)`` until truthy (the console's CSP forbids wait_for_function)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if page.evaluate(expression):
                return
        except Exception:  # the page reloaded itself meanwhile
            pass
        time.sleep(0.2)
    raise TimeoutError(expression)


class Shots:
    def __init__(self, page: Page, base: str, out: Path) -> None:
        self.page, self.base, self.out = page, base, out

    def take(self, name: str, path: str | None = None, ready: Callable[[Page], None] | None = None) -> None:
        if path is not None:
            self.page.goto(self.base + path)
        if ready is not None:
            ready(self.page)
        self.page.screenshot(path=str(self.out / f"{name}.png"), full_page=True)
        print(f"  {name}.png")


def seed(server: RunningServer, key: str, site: str) -> dict[str, str]:
    """Renders (one hostile), an automation task with a run: made through the API."""
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=90)
    made: dict[str, str] = {}
    for path, options in (
        ("/js-content", {"includeScreenshot": True}),
        ("/hostile", {"includeScreenshot": True, "screenshotFormat": "png"}),
        ("/structured", {"fetchUrls": [f"{site}/api/items"]}),
        ("/delayed", {"waitFor": [{"type": "selector", "selector": "#never", "timeout": 1000}]}),
    ):
        render_id = api.post("/v1/renders", json={"url": site + path, **options}).json()["renderId"]
        api.get(f"/v1/renders/{render_id}", params={"wait": 60})
        made.setdefault("render", render_id)
    steps = [
        {"uid": "open", "action": "go", "config": {"url": f"{site}/js-content"}},
        {"uid": "products", "action": "save_text", "config": {"selector": "li.product", "all": True}},
        {"uid": "shot", "action": "take_screenshot", "config": {}},
    ]
    task = api.post("/v1/tasks", json={"name": "Product names", "steps": steps}).json()
    run = api.post(f"/v1/tasks/{task['uid']}/runs", json={}).json()
    api.get(f"/v1/tasks/{task['uid']}/runs/{run['uid']}", params={"wait": 60})
    made.update(task=task["uid"], run=run["uid"])
    api.close()
    return made


def render_ready(page: Page) -> None:
    """The render's screenshot decoded and its sandboxed preview loaded."""
    wait_until(page, "() => document.getElementById('screenshot').naturalWidth > 0")
    page.frame_locator("#preview").locator("li").first.wait_for()


def sign_in(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/console/signin")
    page.fill("#key", key)
    page.click("#signin")
    page.wait_for_load_state()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "console")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="console-shots-") as folder,
        SiteServer() as site,
        LLMStandIn() as llm,
    ):
        harness = FleetHarness(Path(folder))
        try:
            server = harness.server(
                admin_key=ADMIN_KEY, llm_base_url=llm.url, llm_api_key=LLM_KEY, llm_model="scripted"
            )
            key = harness.new_key(server)
            made = seed(server, key, site.url)
            llm.play(
                [call("navigate", url=f"{site.url}/shop"), call("done", success=True, result="Not signed in")]
            )
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=HEADLESS_SHELL, args=list(CHROMIUM_FLAGS))
                page = browser.new_context(viewport=VIEWPORT).new_page()
                take_all(pw, page, server, key, site.url, made, Shots(page, server.url, args.out))
                browser.close()
        finally:
            harness.close()
    return 0


def take_all(
    pw: Playwright, page: Page, server: RunningServer, key: str, site: str, made: dict[str, str], shots: Shots
) -> None:
    shots.take("signin", "/console/signin")
    sign_in(page, server.url, key)
    shots.take("renders", "/console/renders")
    shots.take(
        "render",
        f"/console/renders/{made['render']}",
        render_ready,
    )
    shots.take("render-form", "/console/renders/new")
    session_pages(pw, page, server, key, site, shots)
    shots.take("library", "/console/library")
    shots.take("tasks", "/console/tasks")
    shots.take("task-editor", f"/console/tasks/{made['task']}")
    shots.take(
        "run",
        f"/console/tasks/{made['task']}/runs/{made['run']}",
        lambda p: wait_until(p, "() => document.getElementById('run-video').readyState >= 2"),
    )
    page.goto(f"{server.url}/console/browsing")
    page.fill("#task", "Am I signed in at the shop?")
    page.select_option("#screenshot_mode", "every_step")
    page.click("#submit-task")
    wait_until(page, "() => document.querySelector('#task-status .state-completed') !== null")
    shots.take("browsing-task")
    shots.take("browsing", "/console/browsing")
    shots.take("overview", "/console/")  # after the rest: its charts and figures show all of it
    shots.take("settings", "/console/settings")
    page.click("#signout")
    page.fill("#key", ADMIN_KEY)
    page.click("#signin")
    page.wait_for_load_state()
    shots.take("fleet", "/console/fleet")


def session_pages(
    pw: Playwright, page: Page, server: RunningServer, key: str, site: str, shots: Shots
) -> None:
    """A session driven over CDP while the console shows it live; then released: its replay."""
    headers = {"Authorization": f"Bearer {key}"}
    session = httpx.post(
        f"{server.url}/v1/sessions", json={"userMetadata": {"team": "docs"}}, headers=headers, timeout=60
    ).json()
    driver = pw.chromium.connect_over_cdp(session["connectUrl"])
    visited = driver.contexts[0].pages[0]
    visited.goto(f"{site}/js-content")
    page.goto(f"{server.url}/console/sessions/new")
    shots.take("session-form")
    page.goto(f"{server.url}/console/sessions/{session['id']}")
    time.sleep(2)  # a few live frames
    shots.take("session-live")
    visited.goto(f"{site}/structured")
    driver.close()
    page.click("#release")
    wait_until(page, "() => document.querySelector('#replay[data-ready]') !== null")
    wait_until(page, "() => document.querySelector('video.page-video') !== null", timeout=90)
    time.sleep(1)
    shots.take("session-ended")
    shots.take("sessions", "/console/sessions")


if __name__ == "__main__":
    sys.exit(main())
