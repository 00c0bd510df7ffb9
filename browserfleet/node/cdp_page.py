"""A page in an isolated context of its own, driven over the node's DevTools line: :class:`CDPPage`.

Playwright sets up every page it attaches to for all it offers (the Runtime, Network and Log
domains, a utility world, lifecycle events: about 25 commands per page) and carries every message
through its driver process. A render needs a handful of operations, so the render lane drives its
pages itself (node/render.py says which renders): measured on the 2-core machine, a render of the
benchmark page costs Chromium ~0.11 CPU-s this way against ~0.13 (+0.013 for the driver) through
Playwright.

What a page gets (the same as a Playwright context of the render shape, node/render.py
``context_options``): its own browser context (``Target.createBrowserContext``: cookies, storage,
cache and permissions of its own, disposed with the page) with the job's egress channel as its only
proxy (``<-loopback>``: loopback goes through it too); the viewport; the place's timezone, locale,
geolocation (permission granted) and Accept-Language; the init scripts (service-worker registration
disabled, as Playwright's ``service_workers: "block"`` does, and the render's own); image requests
failed as ``BlockedByClient``; focus emulation. Dialogs (``alert``, ``confirm``, ``prompt``) are
dismissed as Playwright does when nobody handles them, so a page that opens one still loads;
downloads are refused. The main document's response is looked at (a
``Fetch`` pause at the response stage of documents only) for the egress proxy's own answers
(``X-Browserfleet-Egress``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from browserfleet.core.geo import City
from browserfleet.node.browser_line import BrowserLine
from browserfleet.node.cdp import CDPClosed, CDPError
from browserfleet.node.egress import EGRESS_HEADER

__all__ = ["CDPPage", "NavigationFailed", "PageGone", "PageOptions", "ScriptError"]

_NO_SERVICE_WORKERS = (
    "if (self.ServiceWorkerContainer) ServiceWorkerContainer.prototype.register = async () => {};"
)
_IMAGES = {"resourceType": "Image", "requestStage": "Request"}
_DOCUMENTS = {"resourceType": "Document", "requestStage": "Response"}
_CLOSE_TIMEOUT_S = 5.0


class PageGone(ConnectionError):
    """The page, its renderer or the browser line is gone."""


class NavigationFailed(Exception):
    """The navigation ended in a network error; ``reason`` is its name (``ERR_…``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ScriptError(Exception):
    """An evaluated script threw; the message is the page's exception text."""


@dataclass(frozen=True)
class PageOptions:
    proxy_server: str
    viewport: tuple[int, int]
    place: City | None = None
    block_images: bool = True
    init_script: str = ""


class CDPPage:
    """One page in a context of its own on ``line``; :meth:`open` makes it, :meth:`close` disposes
    of the whole context."""

    def __init__(self, line: BrowserLine, context_id: str, target_id: str, session_id: str) -> None:
        self.line = line
        self.context_id = context_id
        self.target_id = target_id  # also the id of its main frame
        self.session_id = session_id
        self.egress_answer: str | None = None  # X-Browserfleet-Egress of the main document
        self._loaded: asyncio.Future[None] | None = None
        self._committed = False  # the main frame has a document of the navigation under way
        self._gone: str | None = None
        self._closed = False

    @classmethod
    async def open(cls, line: BrowserLine, options: PageOptions) -> CDPPage:
        cdp = line.cdp
        made = await cdp.send(
            "Target.createBrowserContext",
            {"disposeOnDetach": True, "proxyServer": options.proxy_server, "proxyBypassList": "<-loopback>"},
        )
        context_id = made["browserContextId"]
        try:
            user_agent = await line.user_agent() if options.place is not None else ""
            browser_level = [
                ("Browser.setDownloadBehavior", {"behavior": "deny", "browserContextId": context_id})
            ]
            if options.place is not None:
                grant = {"permissions": ["geolocation"], "browserContextId": context_id}
                browser_level.append(("Browser.grantPermissions", grant))
            browser_level.append(
                ("Target.createTarget", {"url": "about:blank", "browserContextId": context_id})
            )
            target_id = (await cdp.send_all(browser_level))[-1]["targetId"]
            attached = await cdp.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})
            page = cls(line, context_id, target_id, attached["sessionId"])
            line.register(page.session_id, page)
            await page._send_all(_page_commands(options, user_agent))
        except BaseException:
            with contextlib.suppress(CDPError, CDPClosed, TimeoutError):
                await cdp.send("Target.disposeBrowserContext", {"browserContextId": context_id}, timeout_s=5)
            raise
        return page

    # --- what the line tells ---------------------------------------------------------------------

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.frameNavigated":
            frame = params.get("frame", {})
            self._committed = self._committed or (
                frame.get("id") == self.target_id and frame.get("url") != "about:blank"
            )
        elif method == "Page.loadEventFired":
            # only the load of a document the navigation committed (not the first about:blank's)
            if self._committed and self._loaded is not None and not self._loaded.done():
                self._loaded.set_result(None)
        elif method == "Fetch.requestPaused":
            self._paused(params)
        elif method == "Page.javascriptDialogOpening":
            self._fire("Page.handleJavaScriptDialog", {"accept": params.get("type") == "beforeunload"})
        elif method == "Inspector.targetCrashed":
            self.on_gone("the page crashed")

    def on_gone(self, reason: str) -> None:
        self._gone = self._gone or reason
        if self._loaded is not None and not self._loaded.done():
            self._loaded.set_exception(PageGone(reason))

    def _paused(self, params: dict[str, Any]) -> None:
        request_id = params["requestId"]
        if "responseStatusCode" not in params and "responseErrorReason" not in params:  # an image
            self._fire("Fetch.failRequest", {"requestId": request_id, "errorReason": "BlockedByClient"})
            return
        if params.get("frameId") == self.target_id:
            headers = {h["name"].lower(): h["value"] for h in params.get("responseHeaders") or ()}
            self.egress_answer = headers.get(EGRESS_HEADER.lower())
        self._fire("Fetch.continueRequest", {"requestId": request_id})

    def _fire(self, method: str, params: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self._send(method, params))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # the page may be gone

    # --- operations ------------------------------------------------------------------------------

    @property
    def gone(self) -> bool:
        return self._gone is not None or self._closed

    async def navigate(self, url: str, timeout_s: float) -> None:
        """Load ``url`` until its ``load`` event; NavigationFailed for a network error, TimeoutError
        when ``load`` does not come in time (the document may be there all the same)."""
        self.egress_answer = None
        self._committed = False
        self._loaded = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(timeout_s):
            answer = await self._send("Page.navigate", {"url": url}, timeout_s=timeout_s)
            if answer.get("errorText"):
                raise NavigationFailed(str(answer["errorText"]).removeprefix("net::"))
            await self._loaded

    async def evaluate(self, expression: str, *, timeout_s: float = 30.0) -> Any:
        """The value of ``expression`` (promises awaited, returned by value)."""
        params = {"expression": expression, "returnByValue": True, "awaitPromise": True}
        answer = await self._send("Runtime.evaluate", params, timeout_s=timeout_s)
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text", "")
            raise ScriptError(str(thrown).splitlines()[0] if thrown else "script error")
        return answer.get("result", {}).get("value")

    async def close(self) -> None:
        """Dispose of the page's context (time-limited; a gone browser has nothing to dispose)."""
        if self._closed:
            return
        self._closed = True
        self.line.unregister(self.session_id)
        with contextlib.suppress(CDPError, CDPClosed, TimeoutError):
            await self.line.cdp.send(
                "Target.disposeBrowserContext",
                {"browserContextId": self.context_id},
                timeout_s=_CLOSE_TIMEOUT_S,
            )

    async def _send(self, method: str, params: dict[str, Any], *, timeout_s: float = 30.0) -> dict[str, Any]:
        (answer,) = await self._send_all([(method, params)], timeout_s=timeout_s)
        return answer

    async def _send_all(
        self, commands: list[tuple[str, dict[str, Any]]], *, timeout_s: float = 30.0
    ) -> list[dict[str, Any]]:
        if self._gone is not None:
            raise PageGone(self._gone)
        try:
            return await self.line.cdp.send_all(commands, session_id=self.session_id, timeout_s=timeout_s)
        except CDPClosed as exc:
            raise PageGone(str(exc)) from exc
        except CDPError as exc:
            if self._gone is not None:
                raise PageGone(self._gone) from exc
            raise


def _page_commands(options: PageOptions, user_agent: str) -> list[tuple[str, dict[str, Any]]]:
    """What sets a new page up (``user_agent``: the browser's, when the page has a place)."""
    width, height = options.viewport
    patterns = [_DOCUMENTS, _IMAGES] if options.block_images else [_DOCUMENTS]
    scripts = "\n".join(s for s in (_NO_SERVICE_WORKERS, options.init_script) if s)
    metrics = {
        "width": width,
        "height": height,
        "screenWidth": width,
        "screenHeight": height,
        "deviceScaleFactor": 1,
        "mobile": False,
        "screenOrientation": {"angle": 0, "type": "landscapePrimary"},
    }
    commands: list[tuple[str, dict[str, Any]]] = [
        ("Inspector.enable", {}),
        ("Page.enable", {}),
        ("Page.addScriptToEvaluateOnNewDocument", {"source": scripts}),
        ("Fetch.enable", {"patterns": patterns}),
        ("Emulation.setFocusEmulationEnabled", {"enabled": True}),
        ("Emulation.setDeviceMetricsOverride", metrics),
    ]
    place = options.place
    if place is None:
        return commands
    # Chromium adds the q-values itself (en-US,en → en-US,en;q=0.9): pass the bare list
    languages = ",".join(part.split(";")[0].strip() for part in place.accept_language.split(","))
    geolocation = {"latitude": place.latitude, "longitude": place.longitude, "accuracy": 50}
    return [
        *commands,
        ("Emulation.setTimezoneOverride", {"timezoneId": place.timezone}),
        ("Emulation.setLocaleOverride", {"locale": place.locale}),
        ("Emulation.setGeolocationOverride", geolocation),
        ("Network.setUserAgentOverride", {"userAgent": user_agent, "acceptLanguage": languages}),
    ]
