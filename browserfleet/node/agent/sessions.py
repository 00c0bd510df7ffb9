"""Browser sessions kept across browsing tasks with the same ``session_key``.

A task with a ``session_key`` leases the key's session on this node: a pooled browser context
(its cookies, storage and open tabs) with its egress channel, created by the first task and kept
open after it. The next task with the key (core routes it to this node while the session lives)
continues in the same context, on the tab the previous task left current. Tasks of one key run
one at a time (a lock per key). A session unused for ``idle_s`` is closed; so is one whose browser
died. :meth:`AgentSessions.close` closes them all (node shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from playwright.async_api import Page

from browserfleet.core.errors import BrowserCrashed

log = structlog.get_logger(__name__)
NavigationCheck = Callable[[str], "str | None"]


@dataclass
class Lease:
    """A task's browser: the current tab (the task moves it when it switches tabs) and the check
    that names a navigation the egress policy refused."""

    page: Page
    check_navigation: NavigationCheck


Opener = Callable[[contextlib.AsyncExitStack], Awaitable[Lease]]


@dataclass
class _Held:
    stack: contextlib.AsyncExitStack
    lease: Lease
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    idle_timer: asyncio.TimerHandle | None = None
    closed: bool = False

    def usable(self) -> bool:
        browser = self.lease.page.context.browser
        return not self.closed and browser is not None and browser.is_connected()


class AgentSessions:
    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._held: dict[str, _Held] = {}
        self._opening = asyncio.Lock()
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def keys(self) -> list[str]:
        return [k for k, h in self._held.items() if not h.closed]

    @contextlib.asynccontextmanager
    async def lease(self, key: str, open_session: Opener) -> AsyncIterator[Lease]:
        """The key's session (opened with ``open_session`` when there is none), held by this task."""
        held = await self._get(key, open_session)
        async with held.lock:
            if held.idle_timer is not None:
                held.idle_timer.cancel()
            held.lease.page = await _current_tab(held.lease.page)
            try:
                yield held.lease
            except BrowserCrashed:
                await self._drop(key, held)
                raise
            finally:
                if held.usable():
                    held.idle_timer = asyncio.get_running_loop().call_later(
                        self.idle_s, self._expire, key, held
                    )
                elif not held.closed:
                    await self._drop(key, held)

    async def close(self) -> None:
        for key, held in list(self._held.items()):
            await self._drop(key, held)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    async def _get(self, key: str, open_session: Opener) -> _Held:
        async with self._opening:
            held = self._held.get(key)
            if held is not None and held.usable():
                return held
            if held is not None:
                await self._drop(key, held)
            stack = contextlib.AsyncExitStack()
            try:
                lease = await open_session(stack)
            except BaseException:
                await stack.aclose()
                raise
            held = _Held(stack, lease)
            self._held[key] = held
            log.info("agent.session_opened", key=key)
            return held

    def _expire(self, key: str, held: _Held) -> None:
        if held.lock.locked():  # a task has it again; it re-arms the timer when it is done
            return
        task = asyncio.get_running_loop().create_task(self._drop(key, held, reason="idle"))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _drop(self, key: str, held: _Held, reason: str = "closed") -> None:
        if held.closed:
            return
        held.closed = True
        if held.idle_timer is not None:
            held.idle_timer.cancel()
        if self._held.get(key) is held:
            del self._held[key]
        await held.stack.aclose()
        log.info("agent.session_closed", key=key, reason=reason)


async def _current_tab(page: Page) -> Page:
    """The tab a previous task left current, else the newest one, else a new one."""
    if not page.is_closed():
        return page
    pages = page.context.pages
    return pages[-1] if pages else await page.context.new_page()
