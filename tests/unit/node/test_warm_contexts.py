"""Renders on contexts made before they arrive (node/warm.py), pages on the browser's DevTools
line (node/cdp_page.py): nothing of one render is seen by the next — cookies, storage, HTTP
cache, service workers, permissions — and each probe is shown to catch the leak it looks for when
a context is reused."""

from __future__ import annotations

import asyncio
import gzip
import html
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.async_api import Page

from browserfleet.core.jobs import JobKind, JobState, Route
from browserfleet.node.cdp_page import CDPPage
from browserfleet.node.egress import EgressProxy
from browserfleet.node.pool import BrowserPool
from browserfleet.node.render import RenderExecutor
from browserfleet.node.warm import Ready
from browserfleet.settings import CHROMIUM_FLAGS, Settings
from browserfleet.store.records import JobRecord

pytestmark = pytest.mark.browser

_ids = itertools.count(1)

# What a previous render may leave behind, set from the page (the site's /set-cookie page already
# set a server cookie); resolves with whether a service worker was registered (render contexts
# have ``service_workers: "block"``: registering resolves with nothing).
DIRTY = """async (tag) => {
  document.cookie = 'js=left; max-age=3600; path=/';
  localStorage.setItem('bf', 'left');
  sessionStorage.setItem('bf', 'left');
  await new Promise((done) => {
    const open = indexedDB.open('bf-db', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('left');
    open.onsuccess = () => { open.result.close(); done(); };
    open.onerror = () => done();
  });
  await (await fetch('/cacheable?t=' + tag)).text();
  try { return !!(await navigator.serviceWorker.register('/static/sw.js')); } catch (e) { return false; }
}"""

# What a render sees, written into the document (a render's result is its HTML).
PROBE = """async (tag) => {
  const stores = await new Promise((done) => {
    const open = indexedDB.open('bf-db');
    open.onsuccess = () => { const n = open.result.objectStoreNames.length; open.result.close(); done(n); };
    open.onerror = () => done(-1);
  });
  const echoed = await (await fetch('/api/echo')).json();
  await (await fetch('/cacheable?t=' + tag)).text();
  const workers = navigator.serviceWorker ? (await navigator.serviceWorker.getRegistrations()).length : 0;
  const seen = {
    cookie: document.cookie,
    serverCookie: echoed.headers.cookie || '',
    local: localStorage.getItem('bf'),
    session: sessionStorage.getItem('bf'),
    stores,
    workers,
    notifications: (await navigator.permissions.query({ name: 'notifications' })).state,
  };
  document.body.dataset.probe = JSON.stringify(seen);
  return seen;
}"""

CLEAN = {
    "cookie": "",
    "serverCookie": "",
    "local": None,
    "session": None,
    "stores": 0,
    "workers": 0,
}


def job(url: str, expression: str | None = None, **spec: Any) -> JobRecord:
    now = datetime.now(UTC)
    wait_for = [{"action": "evaluate", "expression": expression}] if expression else []
    return JobRecord(
        id=f"ren_warm{next(_ids)}",
        project_id="p",
        kind=JobKind.RENDER,
        state=JobState.RUNNING,
        route=Route(),
        spec={"url": url, "wait_for": wait_for, **spec},
        result=None,
        error_code=None,
        error_message=None,
        billable=True,
        charged_cents=0,
        attempts=1,
        node_id=None,
        keep_blobs_days=None,
        created_at=now,
        updated_at=now,
        started_at=now,
        finished_at=None,
        blobs_purged=False,
    )


def tag_of(name: str) -> str:
    """A cache tag no other test (or run against the same site) used."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def call(expression: str, tag: str) -> str:
    """``expression`` (a function of the tag) as one evaluate action's expression."""
    return f"({expression})({json.dumps(tag)})"


async def until(check: Callable[[], bool], timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - polls the background refill's state
            await asyncio.sleep(0.05)


def probe_of(html_text: str) -> dict[str, Any]:
    found = re.search(r'data-probe="([^"]*)"', html_text)
    assert found, "the probe did not run"
    seen: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return seen


def cache_hits(site_url: str, tag: str) -> int:
    hits: int = httpx.get(f"{site_url}/cacheable/hits", params={"t": tag}).json()["hits"]
    return hits


@pytest.fixture
async def renders(pool: BrowserPool, egress: EgressProxy) -> AsyncIterator[RenderExecutor]:
    executor = RenderExecutor(pool, egress, 30, warm_contexts=2, warm_idle_s=60)
    executor.warm.start()
    await until(lambda: executor.warm.ready_count() == 2)
    yield executor
    await executor.close()


async def render_html(renders: RenderExecutor, url: str, expression: str | None = None) -> str:
    done = await renders.run(job(url, expression))
    return gzip.decompress(done.blobs["html.gz"]).decode()


async def dirty(page: CDPPage, site_url: str, tag: str) -> bool:
    await page.navigate(f"{site_url}/set-cookie", 30)
    registered: bool = await page.evaluate(call(DIRTY, tag))
    grant = {"permissions": ["notifications"], "origin": site_url, "browserContextId": page.context_id}
    await page.line.cdp.send("Browser.grantPermissions", grant)
    return registered


async def probe(page: CDPPage, site_url: str, tag: str) -> dict[str, Any]:
    await page.navigate(f"{site_url}/", 30)
    seen: dict[str, Any] = await page.evaluate(call(PROBE, tag))
    return seen


async def dirty_playwright(page: Page, site_url: str, tag: str) -> bool:
    await page.goto(f"{site_url}/set-cookie")
    registered: bool = await page.evaluate(DIRTY, tag)
    return registered


async def test_a_render_of_the_default_shape_takes_a_ready_context(
    renders: RenderExecutor, site_url: str
) -> None:
    done = await renders.run(job(f"{site_url}/bench"))
    assert renders.warm.taken == 1 and renders.warm.missed == 0
    assert done.result["timingBreakdown"]["browserInitMs"] < 50  # made before it arrived
    await until(lambda: renders.warm.ready_count() == 2)  # refilled in the background
    await renders.run(job(f"{site_url}/bench", block_images=False))  # another shape: its own context
    assert renders.warm.taken == 1


async def test_consecutive_renders_see_nothing_of_the_previous_one(
    renders: RenderExecutor, site_url: str
) -> None:
    tag = tag_of("renders")
    await render_html(renders, f"{site_url}/set-cookie", call(DIRTY, tag))
    assert cache_hits(site_url, tag) == 1
    seen = probe_of(await render_html(renders, f"{site_url}/", call(PROBE, tag)))
    assert renders.warm.taken == 2
    assert {k: seen[k] for k in CLEAN} == CLEAN
    assert cache_hits(site_url, tag) == 2  # the second render's fetch was not served from the cache


async def test_permissions_granted_over_cdp_do_not_carry_over(
    renders: RenderExecutor, pool: BrowserPool, site_url: str
) -> None:
    ready = await renders.warm.take()
    assert ready is not None
    await dirty(ready.page, site_url, tag_of("cdp"))
    granted = "async () => (await navigator.permissions.query({name: 'notifications'})).state"
    assert await ready.page.evaluate(f"({granted})()") == "granted"
    await pool.release(ready.pooled, ready.page, ready.channel.close)
    seen = probe_of(await render_html(renders, f"{site_url}/", call(PROBE, tag_of("cdp-next"))))
    assert renders.warm.taken == 2
    assert seen["notifications"] != "granted"
    assert {k: seen[k] for k in CLEAN} == CLEAN


async def test_reusing_a_context_would_leak_what_the_probes_look_for(
    renders: RenderExecutor, pool: BrowserPool, site_url: str
) -> None:
    """The probes can fail: on the same context, every kind of state shows."""
    ready: Ready | None = await renders.warm.take()
    assert ready is not None
    tag = tag_of("reused")
    try:
        assert await dirty(ready.page, site_url, tag) is False  # no worker in a render context
        seen = await probe(ready.page, site_url, tag)
    finally:
        await pool.release(ready.pooled, ready.page, ready.channel.close)
    assert "js=left" in seen["cookie"] and "session=abc" in seen["serverCookie"]
    assert (seen["local"], seen["session"], seen["stores"]) == ("left", "left", 1)
    assert seen["notifications"] == "granted"
    assert cache_hits(site_url, tag) == 1  # the probe's fetch came from the HTTP cache
    async with pool.context() as plain:  # where workers may register, the probe sees one
        page = await plain.new_page()
        tag = tag_of("workers")
        assert await dirty_playwright(page, site_url, tag) is True
        await page.goto(f"{site_url}/")
        assert (await page.evaluate(PROBE, tag))["workers"] == 1


async def test_xhr_pages_render_with_the_request_counter(renders: RenderExecutor, site_url: str) -> None:
    """Every render context has the in-page request counter; XHR still works under it."""
    late = job(f"{site_url}/bench-late")
    wait = {"action": "wait_for_selector", "selector": "#late-ready", "timeout_ms": 10_000}
    done = await renders.run(job(late.spec["url"], None, wait_for=[wait]))
    assert gzip.decompress(done.blobs["html.gz"]).decode().count('class="late-row"') == 50
    assert done.result["title"] == "Benchmark page, late content"


async def test_unused_ready_contexts_are_discarded(pool: BrowserPool, egress: EgressProxy) -> None:
    executor = RenderExecutor(pool, egress, 30, warm_contexts=3, warm_idle_s=0.5)
    try:
        executor.warm.start()
        await until(lambda: executor.warm.ready_count() == 3)
        await until(lambda: executor.warm.ready_count() == 1, timeout_s=10)  # idle: one stays
        assert egress.open_channels == 0  # ready contexts' channels belong to no job
    finally:
        await executor.close()


async def test_a_recycled_browser_takes_its_ready_contexts_along(egress: EgressProxy, site_url: str) -> None:
    small = BrowserPool(Settings().headless_shell_path, CHROMIUM_FLAGS, size=1, recycle_after=3)
    await small.start()
    executor = RenderExecutor(small, egress, 30, warm_contexts=2, warm_idle_s=60)
    try:
        executor.warm.start()
        first = small.browsers[0]
        await until(lambda: executor.warm.ready_count() == 2)
        for _ in range(4):
            await executor.run(job(f"{site_url}/bench"))
        await until(lambda: small.launches == 2)
        await until(lambda: executor.warm.ready_count() >= 1)
        assert small.browsers[0] is not first
        assert all(r.pooled is small.browsers[0] for group in executor.warm._ready.values() for r in group)
    finally:
        await executor.close()
        await small.close()


async def test_a_channel_opened_ahead_of_its_job_counts_for_it_from_zero(egress: EgressProxy) -> None:
    channel = await egress.open_channel("")  # a ready context's, before its job
    try:
        assert egress.open_channels == 0
        channel.stats.requests, channel.stats.bytes_received = 3, 100
        channel.stats.upstream_failures["a.test"] = "refused"
        channel.assign("ren_bound")
        stats = channel.stats
        assert (channel.job_id, egress.open_channels) == ("ren_bound", 1)
        assert (stats.requests, stats.bytes_received, stats.upstream_failures) == (0, 0, {})
    finally:
        await channel.close()
