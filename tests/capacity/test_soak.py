"""A reduced soak (bench/soak.py at small counts): waves of renders, sessions and automation runs,
a browser killed mid-wave, and everything back to its baseline afterwards.

Waves, one after another on one server in this process: ``RENDERS`` renders at concurrency 16 —
with the render pool's busy browser SIGKILLed in the middle (every accepted render still
completes) —, ``SESSIONS`` session create → Playwright connect → navigate → release cycles with up
to ``LIVE`` live at once, and ``RUNS`` automation runs. A warm-up wave first, so the baseline is
taken with every pool and cache already filled. Afterwards, within a settle time:

* Chromium processes in this process's tree: no more than before (the killed browser's
  replacement may run fewer helpers), none left in a session's OS session (a helper re-parented
  after its browser died would still be found);
* open file descriptors of this process: as many as before (``FD_SLACK``), not counting those
  of the databases' connection pools, which keep a few connections open by design;
* session temp folders (the executor's own temp root): none;
* this process's RSS: within ``RSS_SLACK_MB`` of the baseline (Python keeps freed memory);
* the data folder without its database and blobs (session files…): its baseline size; the
  database and blobs grow by what the jobs keep, at most ``KEPT_PER_JOB_KB`` per job.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from browserbase import AsyncBrowserbase
from playwright.async_api import Playwright, async_playwright

from browserfleet.core.jobs import JobKind
from browserfleet.node.pool import PooledBrowser
from browserfleet.node.session.executor import SessionExecutor
from tests.capacity.conftest import pressure, wait_for
from tests.support.automations import Automations
from tests.support.e2e import RenderApi
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.procs import browser_processes_under, in_sessions
from tests.support.sessions import live

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("soak")]
RENDERS = 100
RENDER_CONCURRENCY = 16
SESSIONS = 30
LIVE = 8
RUNS = 3
FD_SLACK = 2
RSS_SLACK_MB = 120
KEPT_PER_JOB_KB = 256


@dataclass(frozen=True)
class Baseline:
    chromium: int
    fds: int  # without the database's
    db_fds: int
    temp_dirs: int
    rss_mb: float
    transient_kb: int  # the data folder without the database and blobs
    kept_kb: int  # the database and blobs

    @classmethod
    def now(cls, server: RunningServer, temp_root: Path) -> Baseline:
        transient, kept = data_sizes(server.settings.data_dir)
        targets = fd_targets()
        db_fds = sum(1 for target in targets if Path(target).name.startswith("browserfleet.db"))
        return cls(
            chromium=len(browser_processes_under(os.getpid())),
            fds=len(targets) - db_fds,
            db_fds=db_fds,
            temp_dirs=len(list(temp_root.iterdir())),
            rss_mb=rss_mb(),
            transient_kb=transient,
            kept_kb=kept,
        )


def fd_targets() -> list[str]:
    """What this process's descriptors point at (for a failure's message)."""
    targets = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            targets.append(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return sorted(targets)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def data_sizes(data_dir: Path) -> tuple[int, int]:
    """KB of the data folder outside and inside the database and blobs."""
    transient = kept = 0
    for path in data_dir.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        relative = path.relative_to(data_dir).parts
        if relative[0] == "blobs" or relative[0].startswith("browserfleet.db"):
            kept += size
        else:
            transient += size
    return transient // 1024, kept // 1024


@pytest.fixture(scope="module")
def soak_server(harness: FleetHarness, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = harness.server(session_grace_s=1)
    executor = running.fleet.nodes[0].executors[JobKind.SESSION]
    assert isinstance(executor, SessionExecutor)
    executor.temp_root = tmp_path_factory.mktemp("soak-session-temp")
    yield running
    harness.stop_server(running)


# --- waves --------------------------------------------------------------------------------------


def render_wave(
    server: RunningServer, key: str, site_url: str, count: int, kill: FleetHarness | None
) -> None:
    """``count`` renders at concurrency 16; with ``kill``, its pool's busy browser is SIGKILLed
    once a third of them are done. Every render must complete."""
    done: list[str] = []

    def one(n: int) -> str:
        with RenderApi(server.url, key) as api:
            render_id = api.create(
                {"url": f"{site_url}/js-content?n={n}", "waitFor": [{"type": "delay", "duration": 200}]}
            )
            body = api.wait(render_id, 120).json()
            done.append(render_id)
            return str(body["status"])

    with ThreadPoolExecutor(RENDER_CONCURRENCY) as pool:
        statuses = pool.map(one, range(count))
        if kill is not None:
            wait_for(lambda: len(done) >= count // 3, 120, "a third of the renders")
            kill_busy_browser(kill)
        assert sorted(set(statuses)) == ["completed"]


def kill_busy_browser(harness: FleetHarness) -> int:
    def busy() -> PooledBrowser | None:
        return next((b for b in harness.pool.browsers if b.contexts > 0 and b.alive), None)

    browser: PooledBrowser = wait_for(busy, 30, "a busy pool browser")
    pid = browser.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid


async def session_cycle(
    server: RunningServer, client: AsyncBrowserbase, pw: Playwright, site_url: str, n: int
) -> int:
    """One create → connect → navigate → release cycle; the session browser's pid."""
    session = await client.sessions.create(user_metadata={"soak": str(n)})
    assert session.status == "RUNNING"
    pid = live(server, session.id).pid
    try:
        browser = await pw.chromium.connect_over_cdp(session.connect_url, timeout=30000)
        try:
            page = await browser.contexts[0].new_page()
            await page.goto(f"{site_url}/js-content?s={n}")
            await page.wait_for_selector("li.product")
        finally:
            await browser.close()
    finally:
        released = await client.sessions.update(session.id, status="REQUEST_RELEASE")
    assert released.status == "COMPLETED"
    return pid


async def session_wave(server: RunningServer, key: str, site_url: str, count: int) -> set[int]:
    """``count`` cycles, at most ``LIVE`` at once; their browsers' pids (each leads an OS session)."""
    gate = asyncio.Semaphore(LIVE)
    async with AsyncBrowserbase(api_key=key, base_url=server.url) as client, async_playwright() as pw:

        async def one(n: int) -> int:
            async with gate:
                return await session_cycle(server, client, pw, site_url, n)

        pids = set(await asyncio.gather(*(one(n) for n in range(count))))
    assert len(pids) == count
    return pids


def run_wave(server: RunningServer, key: str, site_url: str, count: int) -> None:
    automations = Automations(server, key)
    try:
        task = automations.create_task(
            [
                {"action": "go", "config": {"url": f"{site_url}/js-content"}},
                {"action": "save_text", "config": {"selector": "li.product"}},
            ]
        )
        for _ in range(count):
            assert automations.run_task(task["uid"])["status"] == "finished"
    finally:
        automations.close()


def settled(server: RunningServer, temp_root: Path, before: Baseline, timeout: float = 30) -> Baseline:
    """The figures once processes are reaped and folders removed (or the last try)."""
    deadline = time.monotonic() + timeout
    while True:
        now = Baseline.now(server, temp_root)
        back = (
            now.chromium <= before.chromium
            and now.fds <= before.fds + FD_SLACK
            and now.temp_dirs == before.temp_dirs
            and now.transient_kb <= before.transient_kb
        )
        if back or time.monotonic() > deadline:
            return now
        time.sleep(0.25)


@pytest.mark.timeout(600)
def test_reduced_soak_returns_to_baseline_and_a_killed_browser_loses_no_job(
    harness: FleetHarness, soak_server: RunningServer, site_url: str
) -> None:
    key = harness.new_key(soak_server, concurrency=None)
    executor = soak_server.fleet.nodes[0].executors[JobKind.SESSION]
    temp_root = executor.temp_root  # type: ignore[attr-defined]
    assert isinstance(temp_root, Path)

    render_wave(soak_server, key, site_url, RENDER_CONCURRENCY, kill=None)  # warm-up
    asyncio.run(session_wave(soak_server, key, site_url, 2))
    run_wave(soak_server, key, site_url, 1)
    before = settled(soak_server, temp_root, Baseline.now(soak_server, temp_root))
    fds_before = Counter(fd_targets())

    crashes = harness.pool.crashes
    render_wave(soak_server, key, site_url, RENDERS, kill=harness)
    assert harness.pool.crashes > crashes  # the kill was seen, and every render still completed
    session_pids = asyncio.run(session_wave(soak_server, key, site_url, SESSIONS))
    run_wave(soak_server, key, site_url, RUNS)
    wait_for(lambda: (p := pressure(soak_server))["running"] == 0 and p["queued"] == 0, 30, "an idle fleet")

    after = settled(soak_server, temp_root, before)
    assert after.chromium <= before.chromium, (before, after)  # a replaced browser may have fewer
    assert in_sessions(session_pids) == []  # not even a helper re-parented after its browser
    assert after.fds <= before.fds + FD_SLACK, sorted((Counter(fd_targets()) - fds_before).elements())
    assert after.temp_dirs == before.temp_dirs == 0, (before, after)
    assert after.transient_kb <= before.transient_kb, (before, after)
    jobs = RENDERS + SESSIONS + RUNS
    assert after.kept_kb - before.kept_kb <= jobs * KEPT_PER_JOB_KB, (before, after)
    assert after.rss_mb - before.rss_mb <= RSS_SLACK_MB, (before, after)
    assert len(soak_server.fleet.live_sessions) == 0
