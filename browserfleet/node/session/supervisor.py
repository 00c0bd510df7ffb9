"""The node's own CDP line to a session's browser: what holds whatever the client does.

A remote client may open pages and contexts as it likes; the supervisor auto-attaches to every
page target of the browser (``Target.setAutoAttach`` on the browser target, flat sessions,
``waitForDebuggerOnStart``), applies the session's device profile to it before any script runs
(user agent, ``navigator.platform``, client hints, touch points), then lets it run. After each page
load it calls its ``load_hooks`` (captcha solving: node/session/captcha.py). It is also the handle
the executor uses for browser-wide commands (cookies for contexts, a clean ``Browser.close``).

A page the supervisor cannot prepare still runs (it is resumed whatever happens): a failed
emulation is logged, never a hung page.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from browserfleet.node.cdp import CDPConnection, CDPError
from browserfleet.node.device_profiles import DeviceProfile

log = structlog.get_logger(__name__)
PREPARED_TYPES = frozenset({"page"})
CLOSE_TIMEOUT_S = 5.0


class SessionSupervisor:
    def __init__(self, cdp: CDPConnection, profile: DeviceProfile, version: str) -> None:
        self.cdp = cdp
        self.profile = profile
        self.version = version
        self.prepared = 0  # page targets the profile was applied to
        self.load_hooks: list[Callable[[str], Awaitable[None]]] = []  # called with the page's CDP session
        # called with (the page's CDP session, its targetInfo) after _prepare, before the page runs
        self.prepare_hooks: list[Callable[[str, dict[str, Any]], Awaitable[None]]] = []

    @classmethod
    async def start(
        cls,
        browser_ws_url: str,
        profile: DeviceProfile,
        version: str,
        *,
        before_attach: Callable[[SessionSupervisor], None] | None = None,
    ) -> SessionSupervisor:
        """Connect and auto-attach; ``before_attach`` adds hooks first (so the first page gets them)."""
        supervisor = cls(await CDPConnection.connect(browser_ws_url), profile, version)
        if before_attach is not None:
            before_attach(supervisor)
        supervisor.cdp.on("Target.attachedToTarget", supervisor._on_attached)
        supervisor.cdp.on("Page.loadEventFired", supervisor._on_load)
        await supervisor.cdp.send(
            "Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True}
        )
        return supervisor

    async def _on_attached(self, params: dict[str, Any], _parent: str | None) -> None:
        session_id = str(params["sessionId"])
        target_type = params.get("targetInfo", {}).get("type")
        try:
            if target_type in PREPARED_TYPES:
                await self._prepare(session_id)
                for hook in self.prepare_hooks:
                    await hook(session_id, params.get("targetInfo", {}))
        except CDPError as exc:
            log.warning("session.prepare_failed", error=str(exc), target_type=target_type)
        except ConnectionError:
            return  # the browser is going away with its pages
        finally:
            with contextlib.suppress(CDPError, ConnectionError):
                await self.cdp.send("Runtime.runIfWaitingForDebugger", session_id=session_id)

    async def _on_load(self, _params: dict[str, Any], session_id: str | None) -> None:
        if session_id is not None:
            for hook in self.load_hooks:
                await hook(session_id)

    async def _prepare(self, session_id: str) -> None:
        override = self.profile.user_agent_override(self.version)
        await self.cdp.send("Emulation.setUserAgentOverride", override, session_id=session_id)
        # the override's navigator.platform does not survive a navigation once another client
        # is attached to the page (measured with Playwright), so the getter is pinned in-page too
        await self.cdp.send("Page.enable", session_id=session_id)
        await self.cdp.send(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": _platform_script(self.profile.navigator_platform), "runImmediately": True},
            session_id=session_id,
        )
        if self.profile.touch_points:
            await self.cdp.send(
                "Emulation.setTouchEmulationEnabled",
                {"enabled": True, "maxTouchPoints": self.profile.touch_points},
                session_id=session_id,
            )
        self.prepared += 1

    async def close_browser(self, process: asyncio.subprocess.Process) -> bool:
        """Ask the browser to exit cleanly (it flushes cookies and storage); True once it has."""
        with contextlib.suppress(CDPError, ConnectionError, TimeoutError):
            await self.cdp.send("Browser.close", timeout_s=CLOSE_TIMEOUT_S)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), CLOSE_TIMEOUT_S)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        await self.cdp.close()


def _platform_script(platform: str) -> str:
    return (
        "Object.defineProperty(Navigator.prototype, 'platform', "
        f"{{get: () => {json.dumps(platform)}, configurable: true}});"
    )
