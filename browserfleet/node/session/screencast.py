"""Session videos, the node's half: every page's screencast frames kept on disk while it runs.

With ``recordSession`` (default true) the node films every page target of the session, whichever
client opened it: the session supervisor's prepare hook tells it of each page (and the page's end),
and a filming connection of its own (a second browser-level CDP WebSocket, so frames never queue
in front of the supervisor's work) attaches to each page and runs ``Page.startScreencast`` there;
a client's own screencast (or none) changes nothing. Every frame is acked at once; frames are
stored per page in a :class:`FrameFile` (``<folder>/page-<pageId>.frames``, at most ``FPS`` a
second). Nothing is encoded while the session runs.

Screencasts run while a client is connected (CDP through ``connectUrl``, or a WebDriver session:
:meth:`SessionScreencast.clients_changed`, fed by the live session's client count) and stop
``IDLE_STOP_S`` after the last one left, when the filming connection is closed: an open
screencast costs the browser about 12 MB (measured with ``bench/session_startup.py``: 53 → 65 MB
per idle session browser), which an idle session must not pay, and closing the connection (its CDP
sessions, hence their capturers) gives it back. A page that appears while filming is filmed from
before it runs; one that was open is filmed from the moment a client connects (a start sends the
current picture). While nothing is filmed the video holds the last frame.

``pageId`` is the session's :class:`PageIds` number, the same as the session's logs and rrweb
recording. Bounded by ``max_bytes`` for the whole session: past it no frame is stored and every
page's screencast is stopped (logged once, ``session.video_truncated``).

When the session ends, :meth:`SessionScreencast.finish` returns the blobs to keep (the frames of
each page that had at least one, and ``screencast.json``: one entry per page with its frame count,
size and time span) and removes the folder. ``POST /v1/sessions/{id}/recording/downloads``
encodes them into MP4s (node/session/videos.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import websockets

from browserfleet.node.cdp import CDPConnection, CDPError
from browserfleet.node.session.log import PageIds
from browserfleet.node.video import FrameFile, record_size, screencast_params

if TYPE_CHECKING:
    from browserfleet.node.session.supervisor import SessionSupervisor
    from browserfleet.settings import Settings

log = structlog.get_logger(__name__)
IDLE_STOP_S = 1.0  # screencasts stop this long after the last client left (trailing repaints)
INDEX_BLOB = "screencast.json"  # {"pages": [{pageId, frames, bytes, startedAt, endedAt}], …}


def frames_blob(page_id: int) -> str:
    """The blob holding one page's frames (node/video.py's FrameFile format)."""
    return f"screencast-{page_id}.frames"


@dataclass(frozen=True)
class ScreencastConfig:
    root: Path  # a session's frames go to <root>/<session id>.screencast/
    max_bytes: int = 100 * 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> ScreencastConfig | None:
        """recordSession's screencast frames (recording downloads); None when turned off (max 0)."""
        if not settings.session_video_max_bytes:
            return None
        root = settings.session_files_dir or settings.data_dir / "session-files"
        return cls(root, settings.session_video_max_bytes)


@dataclass
class _Page:
    page_id: int
    target_id: str
    frames: FrameFile
    film: str | None = None  # its CDP session on the filming connection, while filmed


class SessionScreencast:
    def __init__(
        self,
        session_id: str,
        config: ScreencastConfig,
        pages: PageIds,
        *,
        browser_ws_url: str,
        width: int,
        height: int,
    ) -> None:
        self.session_id = session_id
        self.folder = config.root / f"{session_id}.screencast"
        self.max_bytes = config.max_bytes
        self.pages = pages
        self.browser_ws_url = browser_ws_url
        self.params = screencast_params(width, height)
        self.truncated = False
        self._pages: dict[str, _Page] = {}  # the supervisor's CDP session of a page → the page
        self._film: CDPConnection | None = None  # open while filming
        self._filmed: dict[str, _Page] = {}  # a CDP session on the filming connection → its page
        self._wanted = False  # a client is connected (or just left)
        self._stop_later: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()  # one change of the filming connection at a time

    def attach_to(self, supervisor: SessionSupervisor) -> None:
        """Hook into the supervisor before it auto-attaches, to learn every page and its end."""
        self.folder.mkdir(parents=True, exist_ok=True)
        supervisor.cdp.on("Target.detachedFromTarget", self._on_page_closed)
        supervisor.prepare_hooks.append(self._on_page)

    # ---------------------------------------------------------------- when to film

    def clients_changed(self, clients: int) -> None:
        """Film while a client is connected, and ``IDLE_STOP_S`` after the last one left."""
        if self._stop_later is not None:
            self._stop_later.cancel()
            self._stop_later = None
        if clients > 0:
            self._want(True)
        else:
            self._stop_later = asyncio.get_running_loop().call_later(IDLE_STOP_S, self._want, False)

    def _want(self, wanted: bool) -> None:
        self._wanted = wanted and not self.truncated
        asyncio.ensure_future(self._sync()).add_done_callback(_ignore_result)

    async def _sync(self) -> None:
        """Open the filming connection and film every open page, or close it (frees the browser's
        capture buffers: a stopped screencast on a still attached session keeps them)."""
        async with self._lock:
            if not self._wanted:
                await self._close_film()
                return
            if self._film is None and not await self._open_film():
                return
            for page in list(self._pages.values()):
                if page.film is None and page.frames.end is None:
                    await self._film_page(page)

    async def _open_film(self) -> bool:
        try:
            self._film = await CDPConnection.connect(self.browser_ws_url)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            log.warning("session.video_unavailable", session_id=self.session_id, error=str(exc))
            return False
        self._film.on("Page.screencastFrame", self._on_frame)
        self._film.on("Target.detachedFromTarget", self._on_film_detached)
        return True

    async def _close_film(self) -> None:
        film, self._film = self._film, None
        for page in self._filmed.values():
            page.film = None
        self._filmed.clear()
        if film is not None:
            await film.close()

    async def _film_page(self, page: _Page) -> None:
        film = self._film
        if film is None:
            return
        try:
            attached = await film.send("Target.attachToTarget", {"targetId": page.target_id, "flatten": True})
            page.film = str(attached["sessionId"])
            self._filmed[page.film] = page
            await film.send("Page.startScreencast", self.params, session_id=page.film)
        except (CDPError, ConnectionError, TimeoutError):
            return  # the page (or the browser) is going away

    # ---------------------------------------------------------------- events

    async def _on_page(self, cdp_session: str, target_info: dict[str, Any]) -> None:
        if target_info.get("type") != "page" or self.truncated:
            return
        target_id = str(target_info.get("targetId", cdp_session))
        page_id = self.pages.target(target_id)
        page = _Page(page_id, target_id, FrameFile(self.folder / f"page-{page_id}.frames"))
        self._pages[cdp_session] = page
        async with self._lock:
            if self._film is not None:  # filming: from before the page runs
                await self._film_page(page)

    def _on_page_closed(self, params: dict[str, Any], _parent: str | None) -> None:
        page = self._pages.get(str(params.get("sessionId")))
        if page is not None:  # the page closed: its video ends here
            page.frames.close(time.time())

    def _on_film_detached(self, params: dict[str, Any], _parent: str | None) -> None:
        page = self._filmed.pop(str(params.get("sessionId")), None)
        if page is not None:
            page.film = None

    def _on_frame(self, params: dict[str, Any], film_session: str | None) -> None:
        film = self._film
        if film is None or film_session is None:
            return
        ack = film.send(
            "Page.screencastFrameAck", {"sessionId": params.get("sessionId")}, session_id=film_session
        )
        asyncio.ensure_future(ack).add_done_callback(_ignore_result)
        page = self._filmed.get(film_session)
        if page is None or self.truncated:
            return
        data = base64.b64decode(params.get("data", ""))
        if self.stored + record_size(data) > self.max_bytes:
            self._truncate()
            return
        timestamp = params.get("metadata", {}).get("timestamp") or time.time()
        page.frames.add(data, float(timestamp))

    @property
    def stored(self) -> int:
        """The session's frames on disk, counting each page's held frame (bounded by max_bytes)."""
        return sum(page.frames.stored for page in self._pages.values())

    def _truncate(self) -> None:
        """The session's frames reached ``max_bytes``: keep what was stored, stop filming."""
        self.truncated = True
        log.warning("session.video_truncated", session_id=self.session_id, max_bytes=self.max_bytes)
        self._want(False)

    # ---------------------------------------------------------------- end

    async def finish(self) -> dict[str, bytes]:
        """Stop filming; the blobs to keep (frames per page, and the index); the folder removed."""
        if self._stop_later is not None:
            self._stop_later.cancel()
        self._wanted = False
        async with self._lock:
            await self._close_film()
        return await asyncio.to_thread(self._collect)

    def _collect(self) -> dict[str, bytes]:
        try:
            end = time.time()
            for page in self._pages.values():
                page.frames.close(end)
            kept = [page for page in self._pages.values() if page.frames.frames]
            blobs = {frames_blob(page.page_id): page.frames.path.read_bytes() for page in kept}
            if blobs:
                blobs[INDEX_BLOB] = json.dumps(self._index(kept)).encode()
            return blobs
        except OSError:
            log.exception("session.video_lost", session_id=self.session_id)
            return {}
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _index(self, kept: list[_Page]) -> dict[str, Any]:
        pages = [
            {
                "pageId": page.page_id,
                "frames": page.frames.frames,
                "bytes": page.frames.bytes,
                "startedAt": page.frames.first,
                "endedAt": page.frames.end,
            }
            for page in sorted(kept, key=lambda p: p.page_id)
        ]
        return {"pages": pages, "truncated": self.truncated, "maxBytes": self.max_bytes}


def _ignore_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a frame ack or a stop after the page closed fails harmlessly
