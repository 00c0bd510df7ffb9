"""Live view: a session page's screencast for the interactive viewer, and the viewer's input back.

Each viewer gets a CDP connection of its own to the session's browser (the clients' and the
supervisor's are left alone). :class:`LiveViewer` speaks a small protocol over a
:class:`ViewerChannel` — the WebSocket of the viewer page (node/session/routes/live_view.py
pipes it; in distributed mode the control plane pipes the node's) — and CDP towards the browser:

* browser → viewer
  ``{"type":"pages","pages":[{id,url,title}],"active":ID|null}`` (text) whenever the page targets
  change; for every ``Page.screencastFrame`` of the page shown one binary message: a 4-byte
  big-endian length, that many bytes of JSON ``{"type":"frame","pageId":ID,"format":"jpeg",
  "metadata":{deviceWidth,…}}``, then the image itself (binary spares base64 both ways and lets
  the viewer decode off its main thread). Frames that queued up while the viewer was slow are
  acked and dropped, the newest is sent. Chromium sends frames only when the page repaints, so
  the viewer keeps drawing the last one.
* viewer → browser (text JSON; node/session/live_input.py checks it, anything else is ignored)
  ``mouse`` and ``wheel`` → ``Input.dispatchMouseEvent``, ``key`` → ``Input.dispatchKeyEvent``,
  ``text`` → ``Input.insertText`` (all on the page shown), ``{"type":"switch","pageId":ID}``
  shows another page target.

Chromium drops a repaint that comes while frames are unacked and sends nothing more while the page
stays still, so after any activity, once frames and input have been quiet for ``SETTLE_S``, the
viewer asks for one fresh frame (``_settle_loop``): the picture never stays stale.

The page shown is the one asked for (``page_id``), else the first page target; when it closes, the
viewer moves to another page. The viewer never counts as a client of the session (it does not keep
a session alive).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
import structlog

from browserfleet.core.http import outbound_client
from browserfleet.node.cdp import CDPConnection, CDPError
from browserfleet.node.session.live_input import SwitchPage, ViewerMessage, input_command, parse_message

log = structlog.get_logger(__name__)
INPUT_TIMEOUT_S = 5.0  # a page stuck in a dialog must not hold the viewer's input forever
TITLES_REFRESH_S = 1.0
STOP_TIMEOUT_S = 5.0
SETTLE_S = 0.5  # quiet time after activity before one fresh frame is asked for


@dataclass(frozen=True)
class ScreencastOptions:
    """``Page.startScreencast`` parameters (settings ``live_view_*``)."""

    format: Literal["jpeg", "png"] = "jpeg"
    quality: int = 60
    max_width: int = 1920
    max_height: int = 1080

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "format": self.format,
            "maxWidth": self.max_width,
            "maxHeight": self.max_height,
        }
        if self.format == "jpeg":
            params["quality"] = self.quality
        return params


@dataclass(frozen=True)
class PageInfo:
    """A page target of the session's browser, as ``GET /v1/sessions/{id}/debug`` lists it."""

    id: str
    url: str
    title: str
    favicon_url: str


async def list_pages(http_url: str) -> list[PageInfo]:
    """The browser's page targets from its own ``/json/list`` (the one source with favicons);
    ConnectionError if the browser does not answer (it is going away with its session)."""
    try:
        async with outbound_client(timeout=5.0) as client:
            response = await client.get(f"{http_url}/json/list")
            response.raise_for_status()
            targets: list[dict[str, Any]] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ConnectionError(f"the browser did not list its pages: {exc}") from exc
    return [
        PageInfo(
            id=str(target["id"]),
            url=str(target.get("url", "")),
            title=str(target.get("title", "")),
            favicon_url=str(target.get("faviconUrl", "")),
        )
        for target in targets
        if _is_page(target)
    ]


def _is_page(target: dict[str, Any]) -> bool:
    return target.get("type") == "page" and not str(target.get("url", "")).startswith("devtools://")


class ViewerChannel(Protocol):
    """The viewer's end: ``send`` text or binary, ``receive`` text (None once the viewer left)."""

    async def send(self, message: str | bytes) -> None: ...

    async def receive(self) -> str | None: ...


@dataclass
class _Frame:
    cdp_session: str
    params: dict[str, Any]


class LiveViewer:
    """One viewer of one session: its own CDP connection, the page it shows, the frames in flight."""

    def __init__(self, cdp: CDPConnection, channel: ViewerChannel, options: ScreencastOptions) -> None:
        self.cdp = cdp
        self.channel = channel
        self.options = options
        self.pages: dict[str, dict[str, Any]] = {}  # targetId → targetInfo, in discovery order
        self.target: str | None = None  # the page shown
        self.session: str | None = None  # our CDP session on it
        self.frames_sent = 0
        self._frames: asyncio.Queue[_Frame] = asyncio.Queue()
        self._switching = asyncio.Lock()
        self._activity = asyncio.Event()  # a frame was sent or input dispatched (see _settle_loop)
        self._dirty = False  # something may have changed since the last settled frame
        self._refreshing = False  # a refresh frame was asked for and is not yet settled

    @classmethod
    async def open(
        cls, browser_ws_url: str, channel: ViewerChannel, options: ScreencastOptions
    ) -> LiveViewer:
        viewer = cls(await CDPConnection.connect(browser_ws_url), channel, options)
        viewer.cdp.on("Page.screencastFrame", viewer._on_frame)
        viewer.cdp.on("Target.targetCreated", viewer._on_target)
        viewer.cdp.on("Target.targetInfoChanged", viewer._on_target)
        viewer.cdp.on("Target.targetDestroyed", viewer._on_target_gone)
        viewer.cdp.on("Target.detachedFromTarget", viewer._on_detached)
        return viewer

    async def run(self, page_id: str | None = None) -> None:
        """Show ``page_id`` (else the first page) until the viewer leaves or the browser goes."""
        try:
            targets = await self.cdp.send("Target.getTargets")
            for info in targets.get("targetInfos", []):
                if _is_page({**info, "id": info.get("targetId")}):
                    self.pages[str(info["targetId"])] = info
            await self.cdp.send("Target.setDiscoverTargets", {"discover": True})
            await self.show(page_id if page_id in self.pages else next(iter(self.pages), None))
            tasks = [
                asyncio.create_task(self._receive_loop(), name="live-view-input"),
                asyncio.create_task(self._frame_loop(), name="live-view-frames"),
                asyncio.create_task(self._titles_loop(), name="live-view-titles"),
                asyncio.create_task(self._settle_loop(), name="live-view-settle"),
                asyncio.create_task(self.cdp.wait_closed(), name="live-view-browser"),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                done, _ = await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)  # never hang the socket
                for task in done:
                    if not task.cancelled() and task.exception() is not None:
                        log.debug("live_view.task_failed", task=task.get_name(), error=str(task.exception()))
        finally:
            await self.cdp.close()

    async def show(self, target_id: str | None) -> None:
        """Stop the screencast of the page shown, start it on ``target_id``; tell the viewer."""
        async with self._switching:
            if target_id is not None and target_id == self.target and self.session is not None:
                return
            await self._stop()
            if target_id is not None:
                await self._start(target_id)
            await self._send_pages()

    async def _start(self, target_id: str) -> None:
        try:
            attached = await self.cdp.send("Target.attachToTarget", {"targetId": target_id, "flatten": True})
            session = str(attached["sessionId"])
            self.target, self.session = target_id, session
            await self.cdp.send("Page.startScreencast", self.options.params(), session_id=session)
        except CDPError as exc:  # the page closed in between: the next page event moves on
            log.info("live_view.attach_failed", target_id=target_id, error=str(exc))
            self.target = self.session = None

    async def _stop(self) -> None:
        session, self.session, self.target = self.session, None, None
        if session is None:
            return
        with contextlib.suppress(CDPError, TimeoutError):
            await self.cdp.send("Page.stopScreencast", session_id=session, timeout_s=INPUT_TIMEOUT_S)
            await self.cdp.send("Target.detachFromTarget", {"sessionId": session}, timeout_s=INPUT_TIMEOUT_S)

    async def _send_pages(self) -> None:
        pages = [
            {"id": target_id, "url": info.get("url", ""), "title": info.get("title", "")}
            for target_id, info in self.pages.items()
        ]
        await self.channel.send(json.dumps({"type": "pages", "pages": pages, "active": self.target}))

    # --- viewer → browser ------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        while (text := await self.channel.receive()) is not None:
            message = parse_message(text)
            if message is not None:
                await self.handle(message)

    async def handle(self, message: ViewerMessage) -> None:
        """Apply one viewer message to the page shown (input to no page is dropped)."""
        if isinstance(message, SwitchPage):
            if message.page_id in self.pages:
                await self.show(message.page_id)
            return
        session = self.session
        if session is None:
            return
        method, params = input_command(message)
        try:
            await self.cdp.send(method, params, session_id=session, timeout_s=INPUT_TIMEOUT_S)
        except (CDPError, TimeoutError) as exc:
            log.debug("live_view.input_failed", method=method, error=str(exc))
        self._dirty, self._refreshing = True, False
        self._activity.set()

    # --- browser → viewer ------------------------------------------------------------------

    def _on_frame(self, params: dict[str, Any], cdp_session: str | None) -> None:
        if cdp_session is not None:
            self._frames.put_nowait(_Frame(cdp_session, params))

    async def _frame_loop(self) -> None:
        """Send the newest frame, acking it first: Chromium captures the next one meanwhile, and
        no further one until the viewer took this (at most one frame waits for a slow viewer)."""
        while True:
            frame = await self._frames.get()
            while not self._frames.empty():  # the viewer fell behind: only the newest is worth drawing
                await self._ack(frame)
                frame = self._frames.get_nowait()
            acked = asyncio.create_task(self._ack(frame))
            try:
                if frame.cdp_session == self.session:
                    await self.channel.send(_frame_message(self.target, self.options.format, frame.params))
                    self.frames_sent += 1
                    self._dirty = self._dirty or not self._refreshing
                    self._activity.set()
            finally:
                await acked

    async def _settle_loop(self) -> None:
        """Chromium drops a repaint that comes while earlier frames are still unacked, and sends
        nothing more if the page then stays still: the viewer would keep a stale picture (a click's
        effect missing). So once frames and input have been quiet for ``SETTLE_S`` after any
        activity, one fresh frame is asked for (a screencast restart sends the current picture)."""
        while True:
            await self._activity.wait()
            await self._quiet()
            if self._refreshing:  # the refresh frame came (or none will): settled
                self._refreshing = False
            elif self._dirty:
                self._dirty, self._refreshing = False, True
                await self._refresh()

    async def _quiet(self) -> None:
        while True:
            self._activity.clear()
            try:  # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                async with asyncio.timeout(SETTLE_S):
                    await self._activity.wait()
            except TimeoutError:
                return

    async def _refresh(self) -> None:
        async with self._switching:
            if self.session is None:
                return
            with contextlib.suppress(CDPError, TimeoutError):
                await self.cdp.send("Page.stopScreencast", session_id=self.session)
                await self.cdp.send("Page.startScreencast", self.options.params(), session_id=self.session)

    async def _ack(self, frame: _Frame) -> None:
        """Chromium sends the next frame only once this one is acked (notes/chromium.md §3)."""
        with contextlib.suppress(CDPError, TimeoutError):
            await self.cdp.send(
                "Page.screencastFrameAck",
                {"sessionId": frame.params.get("sessionId")},
                session_id=frame.cdp_session,
            )

    async def _titles_loop(self) -> None:
        """Chromium tells target changes on navigation only, before the new title is known: the
        tabs' titles and URLs are read again every ``TITLES_REFRESH_S`` (sent only if changed)."""
        while True:
            await asyncio.sleep(TITLES_REFRESH_S)
            try:
                targets = await self.cdp.send("Target.getTargets")
            except (CDPError, TimeoutError):
                continue
            changed = False
            for info in targets.get("targetInfos", []):
                known = self.pages.get(str(info.get("targetId")))
                if known is not None and (known.get("title"), known.get("url")) != (
                    info.get("title"),
                    info.get("url"),
                ):
                    known.update(title=info.get("title"), url=info.get("url"))
                    changed = True
            if changed:
                await self._send_pages()

    async def _on_target(self, params: dict[str, Any], _session: str | None) -> None:
        info = params.get("targetInfo", {})
        target_id = str(info.get("targetId", ""))
        if not _is_page({**info, "id": target_id}):
            return
        self.pages[target_id] = info
        if self.target is None:
            await self.show(target_id)
        else:
            await self._send_pages()

    async def _on_target_gone(self, params: dict[str, Any], _session: str | None) -> None:
        target_id = str(params.get("targetId", ""))
        if self.pages.pop(target_id, None) is None:
            return
        if self.target in (target_id, None):  # shown, or lost while it was closing
            await self.show(next(iter(self.pages), None))
        else:
            await self._send_pages()

    async def _on_detached(self, params: dict[str, Any], _session: str | None) -> None:
        """Our session on the page shown ended without us (the page crashed or was replaced)."""
        if self.session is None or params.get("sessionId") != self.session:
            return
        target, self.session = self.target, None
        await self.show(target if target in self.pages else next(iter(self.pages), None))


def _frame_message(target_id: str | None, image_format: str, params: dict[str, Any]) -> bytes:
    """Length-prefixed JSON header, then the image bytes (CDP sends them base64)."""
    header = json.dumps(
        {"type": "frame", "pageId": target_id, "format": image_format, "metadata": params.get("metadata", {})}
    ).encode()
    return len(header).to_bytes(4, "big") + header + base64.b64decode(params.get("data", ""))
