"""The node's own DevTools line to a pooled browser, beside Playwright's: :class:`BrowserLine`.

Playwright drives a pooled browser over a pipe it owns. Renders drive their pages over a line of
the node's own (node/cdp_page.py): the pool launches each browser with its DevTools server on a
free port of its loopback — inside the browser's sandbox when contained, where only the node
reaches it, through the sandbox's network namespace — reads the port from ``DevToolsActivePort``
in the profile folder, and connects (:func:`open_line`). Pages of contexts made on this line are
not Playwright's: it detaches from them at once and never sets them up.

One :class:`BrowserLine` per browser routes the page events (flat sessions: each carries its
``sessionId``) to the page they belong to, and tells every page when the line or its target dies.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Protocol

from browserfleet.node.cdp import CDPConnection, devtools_port
from browserfleet.node.sandbox.netns import NetNamespace

__all__ = ["BrowserLine", "LinePage", "debug_port_flag", "open_line"]

EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORT_FILE_TIMEOUT_S = 10.0
# the session-scoped events a page listens to
PAGE_EVENTS = (
    "Page.frameNavigated",
    "Page.loadEventFired",
    "Page.javascriptDialogOpening",
    "Fetch.requestPaused",
    "Inspector.targetCrashed",
)


class LinePage(Protocol):
    """What the line tells a page of."""

    def on_event(self, method: str, params: dict[str, Any]) -> None: ...

    def on_gone(self, reason: str) -> None: ...


class BrowserLine:
    """One browser's line: commands via :attr:`cdp`, events routed to the registered pages."""

    def __init__(self, cdp: CDPConnection) -> None:
        self.cdp = cdp
        self._pages: dict[str, LinePage] = {}
        self._user_agent: str | None = None
        for method in PAGE_EVENTS:
            cdp.on(method, self._router(method))
        cdp.on("Target.detachedFromTarget", self._detached)
        self._watch = asyncio.create_task(self._watch_close(), name="browser-line")

    @property
    def closed(self) -> bool:
        return self.cdp.closed

    def register(self, session_id: str, page: LinePage) -> None:
        self._pages[session_id] = page

    def unregister(self, session_id: str) -> None:
        self._pages.pop(session_id, None)

    async def user_agent(self) -> str:
        """The browser's own user agent (asked once)."""
        if self._user_agent is None:
            self._user_agent = str((await self.cdp.send("Browser.getVersion"))["userAgent"])
        return self._user_agent

    async def close(self) -> None:
        self._watch.cancel()
        await self.cdp.close()
        self._gone("the browser connection closed")

    def _router(self, method: str) -> Any:
        def route(params: dict[str, Any], session_id: str | None) -> None:
            page = self._pages.get(session_id or "")
            if page is not None:
                page.on_event(method, params)

        return route

    def _detached(self, params: dict[str, Any], _session_id: str | None) -> None:
        page = self._pages.pop(str(params.get("sessionId", "")), None)
        if page is not None:
            page.on_gone("the page was closed")

    async def _watch_close(self) -> None:
        await self.cdp.wait_closed()
        self._gone("the browser connection closed")

    def _gone(self, reason: str) -> None:
        pages, self._pages = list(self._pages.values()), {}
        for page in pages:
            page.on_gone(reason)


def debug_port_flag(contained: bool) -> str:
    """Where a pooled browser listens for DevTools (its port is written to DevToolsActivePort).

    Uncontained: a free port of the host (``0``). Contained: a fixed port just below the host's
    ephemeral range. The sandbox's loopback also carries the egress channels of the browser's jobs,
    each on the port its host-side listener got from that range (node/sandbox/pool_jail.py), so a
    DevTools port taken from the same range could be the very port a later channel needs there.
    """
    if not contained:
        return "--remote-debugging-port=0"
    low = int(EPHEMERAL_PORTS.read_text().split()[0])
    return f"--remote-debugging-port={low - 1}"


async def open_line(pid: int, netns: NetNamespace | None) -> BrowserLine:
    """Connect to the DevTools server of the browser process ``pid`` (launched with
    :func:`debug_port_flag`); ``netns``: its sandbox's network namespace when contained."""
    port, path = await _devtools_port(_profile_of(pid))
    sock = await netns.connect(port) if netns is not None else None
    return BrowserLine(await CDPConnection.connect(f"ws://127.0.0.1:{port}{path}", sock=sock))


def _profile_of(pid: int) -> Path:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    for arg in argv:
        if arg.startswith(b"--user-data-dir="):
            return Path(arg.removeprefix(b"--user-data-dir=").decode())
    raise RuntimeError(f"browser {pid} has no --user-data-dir")


async def _devtools_port(profile: Path) -> tuple[int, str]:
    deadline = time.monotonic() + PORT_FILE_TIMEOUT_S
    while time.monotonic() < deadline:
        if (endpoint := devtools_port(profile)) is not None:
            return endpoint
        await asyncio.sleep(0.02)
    raise RuntimeError(f"no DevTools port in {profile} after {PORT_FILE_TIMEOUT_S:g} s")
