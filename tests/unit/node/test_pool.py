"""The warm pool: isolated contexts, recycling after N contexts, replacement of a dead browser."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Error as PlaywrightError

from browserfleet.node.pool import BrowserPool
from browserfleet.settings import CHROMIUM_FLAGS, Settings

pytestmark = pytest.mark.browser


@pytest.fixture
async def pool() -> AsyncIterator[BrowserPool]:
    started = BrowserPool(Settings().headless_shell_path, CHROMIUM_FLAGS, size=1, recycle_after=2)
    await started.start()
    yield started
    await started.close()


async def test_contexts_are_isolated(pool: BrowserPool) -> None:
    async with pool.context() as first, pool.context() as second:
        page = await first.new_page()
        await page.set_content("<p>one</p>")
        await first.add_cookies([{"name": "who", "value": "first", "url": "http://a.test/"}])
        assert await second.cookies() == []
        assert [c["value"] for c in await first.cookies()] == ["first"]


async def test_browser_is_recycled_after_its_quota_of_contexts(pool: BrowserPool) -> None:
    first = pool.browsers[0]
    for _ in range(2):
        async with pool.context() as ctx:
            await (await ctx.new_page()).set_content("<p>x</p>")
    assert pool.launches == 2
    assert pool.browsers[0] is not first
    assert not first.alive
    async with pool.context() as ctx:  # the fresh browser serves
        page = await ctx.new_page()
        await page.set_content("<h1>fresh</h1>")
        assert await page.inner_text("h1") == "fresh"


async def test_dead_browser_is_replaced_and_reported(pool: BrowserPool) -> None:
    dead = pool.browsers[0]
    pid = dead.pid()
    assert pid is not None
    async with pool.context() as ctx:
        page = await ctx.new_page()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(PlaywrightError):
            await page.wait_for_timeout(5000)
        assert pool.crashed(ctx)
    async with pool.context() as ctx:
        page = await ctx.new_page()
        await page.set_content("<p>alive</p>")
        assert await page.inner_text("p") == "alive"
    assert pool.crashes == 1
    assert pool.browsers[0] is not dead
