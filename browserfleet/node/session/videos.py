"""Session videos, the encoding half: one MP4 per recorded page of an ended session, on request.

The node kept each page's screencast frames as blobs when the session ended
(node/session/screencast.py: ``screencast.json`` lists the pages). This service turns them into
``recording-<pageId>.mp4`` blobs with ffmpeg (node/video.py), in the background, and keeps each
page's status in the ``videos.json`` blob (so it shares the session's retention)::

    NOT_REQUESTED  no POST yet (no videos.json)
    PENDING        asked for, waiting for an encoder or being encoded
    COMPLETED      the MP4 is stored (``completedAt``)
    FAILED         the encode failed (ffmpeg missing or failing, frames gone): POST again to retry

:meth:`SessionVideos.request` (the POST) marks every page that is not ``COMPLETED`` or already
``PENDING`` as ``PENDING`` and starts the session's encoder task if it is not running: the task
encodes the session's pending pages one by one, at most ``encoders`` encodes at a time in this
process. A page left ``PENDING`` by a process that stopped is picked up again by the next
:meth:`list` or :meth:`request` in a process that runs none for the session.
"""

from __future__ import annotations

import asyncio
import io
import json
import weakref
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog

from browserfleet.core.jobs import utcnow
from browserfleet.node.session.screencast import INDEX_BLOB, frames_blob
from browserfleet.node.video import VideoError, encode, read_frames
from browserfleet.store.blobs import BlobStore

log = structlog.get_logger(__name__)
STATUS_BLOB = "videos.json"


def video_blob(page_id: int) -> str:
    return f"recording-{page_id}.mp4"


class VideoStatus(StrEnum):
    NOT_REQUESTED = "NOT_REQUESTED"
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class PageVideo:
    page_id: int
    status: VideoStatus
    completed_at: datetime | None = None


class SessionVideos:
    def __init__(self, blobs: BlobStore, ffmpeg: Path, *, encoders: int = 1) -> None:
        self.blobs = blobs
        self.ffmpeg = ffmpeg
        self._encoders = asyncio.Semaphore(encoders)
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def statuses(self, session_id: str) -> list[PageVideo]:
        """Every recorded page of an ended session with its status ([] if nothing was recorded)."""
        async with self._lock(session_id):
            pages = await self._pages(session_id)
            status = await self._status(session_id)
            self._resume(session_id, status)
        return [_page_video(page, status) for page in pages]

    async def request(self, session_id: str) -> list[PageVideo]:
        """Ask for every page's MP4: not yet done or failed → ``PENDING``, encoded in the background."""
        async with self._lock(session_id):
            pages = await self._pages(session_id)
            if not pages:
                return []
            status = await self._status(session_id)
            for page in pages:
                if _page_video(page, status).status not in (VideoStatus.COMPLETED, VideoStatus.PENDING):
                    status[str(page["pageId"])] = {"status": VideoStatus.PENDING.value}
            await self._save(session_id, status)
            self._resume(session_id, status)
        return [_page_video(page, status) for page in pages]

    async def video(self, session_id: str, page_id: int) -> bytes | None:
        """A page's MP4 (None until it is ``COMPLETED``, or after retention)."""
        return await self.blobs.get(session_id, video_blob(page_id))

    async def close(self) -> None:
        """Stop the encoders (pages being encoded stay ``PENDING`` and resume later)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ---------------------------------------------------------------- state

    def _lock(self, session_id: str) -> asyncio.Lock:
        lock = self._locks.get(session_id)
        if lock is None:  # alive while anyone holds or waits for it
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    async def _pages(self, session_id: str) -> list[dict[str, Any]]:
        index = await self.blobs.get(session_id, INDEX_BLOB)
        if index is None:
            return []
        pages = json.loads(index).get("pages", [])
        return [p for p in pages if isinstance(p, dict) and isinstance(p.get("pageId"), int)]

    async def _status(self, session_id: str) -> dict[str, dict[str, Any]]:
        data = await self.blobs.get(session_id, STATUS_BLOB)
        status = json.loads(data) if data is not None else {}
        return status if isinstance(status, dict) else {}

    async def _save(self, session_id: str, status: dict[str, dict[str, Any]]) -> None:
        await self.blobs.put(session_id, STATUS_BLOB, json.dumps(status).encode())

    def _resume(self, session_id: str, status: dict[str, dict[str, Any]]) -> None:
        """Start the session's encoder if a page waits and none runs here (called under the lock)."""
        waiting = any(entry.get("status") == VideoStatus.PENDING for entry in status.values())
        if waiting and session_id not in self._tasks:
            task = asyncio.create_task(self._encode_pending(session_id), name=f"session-video-{session_id}")
            self._tasks[session_id] = task

    # ---------------------------------------------------------------- encoding

    async def _encode_pending(self, session_id: str) -> None:
        try:
            while (page := await self._next(session_id)) is not None:
                async with self._encoders:
                    try:
                        outcome = await self._encode(session_id, page)
                    except Exception:
                        log.exception("session.video_failed", session_id=session_id, page_id=page["pageId"])
                        outcome = {"status": VideoStatus.FAILED.value}
                async with self._lock(session_id):
                    status = await self._status(session_id)
                    status[str(page["pageId"])] = outcome
                    await self._save(session_id, status)
        finally:
            if self._tasks.get(session_id) is asyncio.current_task():
                del self._tasks[session_id]

    async def _next(self, session_id: str) -> dict[str, Any] | None:
        """The first page waiting for its MP4; None (and the task unregistered) when none does."""
        async with self._lock(session_id):
            status = await self._status(session_id)
            for page in await self._pages(session_id):
                if _page_video(page, status).status is VideoStatus.PENDING:
                    return page
            self._tasks.pop(session_id, None)  # under the lock: a request now starts a new task
            return None

    async def _encode(self, session_id: str, page: dict[str, Any]) -> dict[str, Any]:
        page_id = int(page["pageId"])
        frames = await self.blobs.get(session_id, frames_blob(page_id))
        try:
            if frames is None:
                raise VideoError("the page's frames are gone")
            end = page.get("endedAt")
            mp4 = await encode(self.ffmpeg, read_frames(io.BytesIO(frames)), end=end)
        except VideoError as exc:
            log.warning("session.video_failed", session_id=session_id, page_id=page_id, error=str(exc))
            return {"status": VideoStatus.FAILED.value}
        await self.blobs.put(session_id, video_blob(page_id), mp4)
        log.info("session.video_encoded", session_id=session_id, page_id=page_id, bytes=len(mp4))
        return {"status": VideoStatus.COMPLETED.value, "completedAt": utcnow().isoformat()}


def _page_video(page: dict[str, Any], status: dict[str, dict[str, Any]]) -> PageVideo:
    entry = status.get(str(page["pageId"]), {})
    try:
        state = VideoStatus(entry.get("status", VideoStatus.NOT_REQUESTED))
    except ValueError:
        state = VideoStatus.NOT_REQUESTED
    completed = entry.get("completedAt")
    completed_at = datetime.fromisoformat(completed) if isinstance(completed, str) else None
    return PageVideo(int(page["pageId"]), state, completed_at if state is VideoStatus.COMPLETED else None)
