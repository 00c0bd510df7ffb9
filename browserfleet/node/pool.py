"""A warm pool of Chromium processes; every job gets its own isolated BrowserContext.

- ``size`` browsers are launched at start and kept running.
- A lease picks the live browser with the fewest open contexts.
- A browser is recycled (replaced by a fresh one) after ``recycle_after`` contexts, once its last
  context closes, and replaced at once when it dies; a job whose browser died sees
  :class:`~browserfleet.core.errors.BrowserCrashed` and the node retries it.
- With containment (node/sandbox/), each browser runs in a sandbox of its own (:class:`PoolJail`)
  and a context opened with ``egress=channel`` gets that job's channel served inside it.
- Each browser also has a DevTools line of the node's own (:attr:`PooledBrowser.line`,
  node/browser_line.py): renders drive their pages over it without Playwright (node/cdp_page.py).
- A context made ahead of its job (node/warm.py) is opened with :meth:`BrowserPool.open` on a
  browser of :meth:`BrowserPool.pick`, and counted from the moment a job takes it
  (:meth:`BrowserPool.lease`) until :meth:`BrowserPool.release` (or ``release_later``) closed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from browserfleet.core.errors import BrowserCrashed
from browserfleet.node.browser_line import BrowserLine, debug_port_flag, open_line
from browserfleet.node.cdp import CDPClosed, CDPError
from browserfleet.node.cdp_page import CDPPage, PageGone, PageOptions
from browserfleet.node.egress import EgressChannel
from browserfleet.node.sandbox import Containment, PoolJail
from browserfleet.node.sandbox.pool_jail import sweep_stale_jails

log = structlog.get_logger(__name__)
_CLOSE_TIMEOUT_S = 5.0
_ids = itertools.count(1)


@dataclass
class PooledBrowser:
    browser: Browser
    marker: str
    contexts: int = 0
    served: int = 0
    retiring: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    jail: PoolJail | None = None  # contained: its sandbox (node/sandbox/pool_jail.py)
    exposed: weakref.WeakSet[EgressChannel] = field(default_factory=weakref.WeakSet)
    line: BrowserLine | None = None  # the node's own DevTools line (node/browser_line.py)

    @property
    def alive(self) -> bool:
        return self.browser.is_connected()

    def pid(self) -> int | None:
        """The main Chromium process, found by the unique marker flag on its command line."""
        return find_pid_with_arg(self.marker)


class BrowserPool:
    def __init__(
        self,
        executable: Path,
        flags: Sequence[str],
        *,
        size: int = 1,
        recycle_after: int = 200,
        containment: Containment | None = None,
    ) -> None:
        self.containment = containment if containment is not None and containment.active else None
        self.executable = executable
        self.flags = list(flags)
        self.size = size
        self.recycle_after = recycle_after
        self._playwright: Playwright | None = None
        self._browsers: list[PooledBrowser] = []
        self._launch_lock = asyncio.Lock()
        self._releasing: set[asyncio.Task[None]] = set()
        self._on_replaced: list[Callable[[], None]] = []
        self.launches = 0
        self.crashes = 0

    async def start(self) -> None:
        if not self.executable.exists():
            raise RuntimeError(f"Chromium not found at {self.executable}; run `make install`")
        self._playwright = await async_playwright().start()
        if self.containment is not None:
            await asyncio.to_thread(sweep_stale_jails)
        for _ in range(self.size):
            self._browsers.append(await self._launch())

    async def close(self) -> None:
        if self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)
        for pooled in self._browsers:
            await _close(pooled)
        self._browsers.clear()
        if self._playwright:
            await self._playwright.stop()
            self._playwright = None

    @property
    def browsers(self) -> list[PooledBrowser]:
        return list(self._browsers)

    def stats(self) -> list[dict[str, int | str]]:
        return [
            {"marker": b.marker, "contexts": b.contexts, "served": b.served, "alive": int(b.alive)}
            for b in self._browsers
        ]

    @contextlib.asynccontextmanager
    async def context(
        self, *, egress: EgressChannel | None = None, **options: Any
    ) -> AsyncIterator[BrowserContext]:
        """An isolated context on a live browser; closed (with a time limit) on exit. ``egress``:
        the job's channel (``options`` name it as the proxy), served inside a contained browser."""
        pooled = await self.pick()
        self.lease(pooled)
        ctx: BrowserContext | None = None
        try:
            ctx = await self.open(pooled, egress=egress, **options)
            yield ctx
        finally:
            await self.release(pooled, ctx)

    async def open(
        self, pooled: PooledBrowser, *, egress: EgressChannel | None = None, **options: Any
    ) -> BrowserContext:
        """A new isolated context on ``pooled`` (not counted: see :meth:`lease`)."""
        try:
            await _expose(pooled, egress)
            return await pooled.browser.new_context(**options)
        except PlaywrightError as exc:
            raise self._translate(pooled, exc) from exc

    async def open_page(
        self, pooled: PooledBrowser, options: PageOptions, *, egress: EgressChannel | None = None
    ) -> CDPPage:
        """A page in a new isolated context on ``pooled``'s line (not counted: see :meth:`lease`)."""
        if pooled.line is None or pooled.line.closed:
            raise BrowserCrashed("the browser's DevTools line is gone")
        try:
            await _expose(pooled, egress)
            return await CDPPage.open(pooled.line, options)
        except (PageGone, CDPError, CDPClosed) as exc:
            raise self._translate(pooled, exc) from exc

    def lease(self, pooled: PooledBrowser) -> None:
        """Count one more context of a job on ``pooled`` (until :meth:`release`)."""
        pooled.contexts += 1
        pooled.served += 1

    async def release(
        self,
        pooled: PooledBrowser,
        ctx: BrowserContext | CDPPage | None,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Close a leased ``ctx`` (a Playwright context, or the context of a page on the browser's
        line; with a time limit), run ``then`` (e.g. close the job's egress channel), stop counting
        it; the browser is recycled if that was its last context due."""
        try:
            if isinstance(ctx, CDPPage):
                await ctx.close()
            elif ctx is not None:
                await close_context(ctx)
            if then is not None:
                await then()
        finally:
            pooled.contexts -= 1
            await self._maybe_recycle(pooled)

    def release_later(
        self,
        pooled: PooledBrowser,
        ctx: BrowserContext | CDPPage | None,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """:meth:`release` in the background, so a job's answer does not wait for the close; the
        pool's :meth:`close` waits for every one still under way."""
        task = asyncio.create_task(self.release(pooled, ctx, then), name="context-release")
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)
        task.add_done_callback(log_failure)

    def on_replaced(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever a browser was replaced by a fresh one (recycled or dead)."""
        self._on_replaced.append(callback)

    def _replaced(self) -> None:
        for callback in self._on_replaced:
            callback()

    def crashed(self, ctx: BrowserContext) -> bool:
        browser = ctx.browser
        return browser is None or not browser.is_connected()

    def _translate(self, pooled: PooledBrowser, exc: Exception) -> Exception:
        if not pooled.alive:
            return BrowserCrashed(str(exc))
        return exc

    async def pick(self) -> PooledBrowser:
        """The live browser with the fewest contexts (a dead one is replaced first)."""
        async with self._launch_lock:
            for index, pooled in enumerate(self._browsers):
                if not pooled.alive:
                    self.crashes += 1
                    log.warning("browser.replaced", marker=pooled.marker, reason="died")
                    await _close(pooled)
                    self._browsers[index] = await self._launch()
                    self._replaced()
            candidates = [b for b in self._browsers if not b.retiring] or self._browsers
            return min(candidates, key=lambda b: b.contexts)

    async def _maybe_recycle(self, pooled: PooledBrowser) -> None:
        if pooled.served < self.recycle_after or pooled.contexts or pooled not in self._browsers:
            return
        async with self._launch_lock:
            if pooled not in self._browsers:
                return
            index = self._browsers.index(pooled)
            self._browsers[index] = await self._launch()
        self._replaced()
        log.info("browser.recycled", marker=pooled.marker, served=pooled.served)
        await _close(pooled)

    async def _launch(self) -> PooledBrowser:
        assert self._playwright is not None, "pool not started"
        marker = f"--browserfleet-browser={os.getpid()}-{next(_ids)}"
        if self.containment is None:
            browser = await self._playwright.chromium.launch(
                executable_path=str(self.executable),
                args=[*self.flags, debug_port_flag(contained=False), marker],
                headless=True,
            )
            return await self._launched(PooledBrowser(browser=browser, marker=marker))
        jail = await asyncio.to_thread(PoolJail, self.containment, self.executable)
        try:
            browser = await self._playwright.chromium.launch(
                executable_path=str(jail.script),
                args=[*self.containment.chromium_flags(self.flags), debug_port_flag(contained=True), marker],
                headless=True,
                chromium_sandbox=self.containment.chromium_sandbox,
                downloads_path=jail.downloads,
            )
            jail.attach()
        except BaseException:
            await asyncio.to_thread(jail.close)
            raise
        return await self._launched(PooledBrowser(browser=browser, marker=marker, jail=jail))

    async def _launched(self, pooled: PooledBrowser) -> PooledBrowser:
        """Open the browser's line of the node's own; a browser without one is closed again."""
        try:
            pid = await asyncio.to_thread(pooled.pid)
            if pid is None:
                raise RuntimeError(f"no process found for {pooled.marker}")
            pooled.line = await open_line(pid, pooled.jail.netns if pooled.jail else None)
        except BaseException:
            await _close(pooled)
            raise
        self.launches += 1
        return pooled


async def _expose(pooled: PooledBrowser, egress: EgressChannel | None) -> None:
    """Serve ``egress`` inside a contained browser's network namespace (once per browser)."""
    if egress is None or pooled.jail is None or pooled.jail.netns is None or egress in pooled.exposed:
        return
    await egress.serve_socket(await pooled.jail.netns.listen(egress.port))
    pooled.exposed.add(egress)


def log_failure(task: asyncio.Task[None]) -> None:
    """Done-callback of a background task nobody awaits: log what it raised."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("pool.background_failed", task=task.get_name(), error=repr(error)[:300])


async def close_context(ctx: BrowserContext) -> None:
    """Close ``ctx``, giving up after a time limit (a close can hang when the browser is wedged)."""
    with contextlib.suppress(PlaywrightError, TimeoutError):
        await asyncio.wait_for(ctx.close(), _CLOSE_TIMEOUT_S)


async def _close(pooled: PooledBrowser) -> None:
    """Close the browser (with a time limit), its line, then its jail."""
    if pooled.line is not None:
        await pooled.line.close()
    with contextlib.suppress(PlaywrightError, TimeoutError):
        await asyncio.wait_for(pooled.browser.close(), _CLOSE_TIMEOUT_S)
    if pooled.jail is not None:
        await asyncio.to_thread(pooled.jail.close)


WRAPPERS = frozenset({"sh", "bwrap", "setpriv", "setsid"})  # what a contained browser is started through


def find_pid_with_arg(arg: str) -> int | None:
    """The first process whose command line contains ``arg`` and is not a Chromium child, nor one
    of the programs a contained browser is started through."""
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                    argv = fh.read().split(b"\0")
            except OSError:
                continue
            words = [a.decode(errors="replace") for a in argv]
            helper = any(w.startswith("--type=") for w in words)
            if arg in words and not helper and os.path.basename(words[0]) not in WRAPPERS:
                return int(entry.name)
    return None
