"""Leak check: 50 sessions created, used and released leave no browser process and no temp folder.

Each session is created with the official ``browserbase`` SDK (async client), driven by Playwright
over ``connect_url`` (open a page on the local test site, read the DOM) and released. Three run at a
time (the server's ``session_slots``) to keep the loop affordable. Before and after, the test counts

* chromium-headless-shell processes (browsers and every helper) in this worker's process tree —
  the harness's shared render pool is in there too, so the count must simply come back to where
  it started;
* processes still in any session browser's OS session (each session browser leads one, so a
  helper re-parented to init after its browser died would still be found);
* the executor's user-data-dirs: this server's session executor gets a temp root of its own, so
  the count is not disturbed by other tests creating sessions in parallel.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browserbase import AsyncBrowserbase
from playwright.async_api import Playwright, async_playwright

from browserfleet.core.jobs import JobKind
from browserfleet.node.session.executor import TEMP_PREFIX, SessionExecutor
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.procs import browser_processes_under, in_sessions
from tests.support.sessions import live

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("session-leaks")]
SESSIONS = 50
AT_ONCE = 3


@pytest.fixture(scope="module")
def leak_server(harness: FleetHarness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = harness.server(session_slots=AT_ONCE, session_grace_s=1)
    executor = running.fleet.nodes[0].executors[JobKind.SESSION]
    assert isinstance(executor, SessionExecutor)
    executor.temp_root = tmp_path_factory.mktemp("session-temp")
    yield running
    harness.stop_server(running)


def temp_dirs(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir())


def settle(check: object, timeout: float = 15) -> None:
    """Wait until ``check()`` is true (processes take a moment to be reaped)."""
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)


async def use_session(
    client: AsyncBrowserbase, pw: Playwright, server: RunningServer, site_url: str, n: int
) -> tuple[int, Path]:
    """Create, use and release one session; its browser pid and user-data-dir."""
    session = await client.sessions.create(user_metadata={"leak": str(n)})
    assert session.status == "RUNNING"
    browser_info = live(server, session.id)
    pid, user_data = browser_info.pid, browser_info.user_data_dir
    assert user_data.is_dir()
    # the counters below see this browser: it is in this process's tree and leads its own OS session
    assert pid in {p.pid for p in browser_processes_under(os.getpid())}
    try:
        browser = await pw.chromium.connect_over_cdp(session.connect_url, timeout=30000)
        try:
            page = await browser.contexts[0].new_page()
            await page.goto(f"{site_url}/js-content?n={n}")
            await page.wait_for_selector("li.product")
            skus = await page.eval_on_selector_all("li.product", "els => els.map(e => e.dataset.sku)")
            assert len(skus) == 20 and skus[-1] == "SKU-020"
            assert len(in_sessions({pid})) > 1  # the browser and its renderers
        finally:
            await browser.close()
    finally:
        released = await client.sessions.update(session.id, status="REQUEST_RELEASE")
    assert released.status == "COMPLETED" and released.ended_at is not None
    assert released.proxy_bytes > 0
    return pid, user_data


async def run_loop(server: RunningServer, key: str, site_url: str) -> list[tuple[int, Path]]:
    gate = asyncio.Semaphore(AT_ONCE)
    async with AsyncBrowserbase(api_key=key, base_url=server.url) as client, async_playwright() as pw:

        async def one(n: int) -> tuple[int, Path]:
            async with gate:
                return await use_session(client, pw, server, site_url, n)

        return list(await asyncio.gather(*(one(n) for n in range(SESSIONS))))


def test_fifty_sessions_leave_no_browser_process_or_temp_folder(
    harness: FleetHarness, leak_server: RunningServer, site_url: str
) -> None:
    key = harness.new_key(leak_server)
    temp_root = leak_server.fleet.nodes[0].executors[JobKind.SESSION].temp_root  # type: ignore[attr-defined]
    assert isinstance(temp_root, Path)
    me = os.getpid()
    browsers_before = browser_processes_under(me)
    dirs_before = temp_dirs(temp_root)
    assert dirs_before == []

    used = asyncio.run(run_loop(leak_server, key, site_url))  # ~13 s alone, ~40 s beside other tests

    pids = {pid for pid, _ in used}
    assert len(pids) == SESSIONS  # a dedicated browser per session
    assert {d.name.startswith(TEMP_PREFIX) and d.parent == temp_root for _, d in used} == {True}
    assert len(leak_server.fleet.live_sessions) == 0

    settle(lambda: not in_sessions(pids) and len(browser_processes_under(me)) == len(browsers_before))
    assert in_sessions(pids) == []  # no browser or helper survived, not even re-parented ones
    browsers_after = browser_processes_under(me)
    assert len(browsers_after) == len(browsers_before), (browsers_before, browsers_after)
    assert {p.pid for p in browsers_after} == {p.pid for p in browsers_before}
    assert temp_dirs(temp_root) == dirs_before == []
    assert not any(d.exists() for _, d in used)
