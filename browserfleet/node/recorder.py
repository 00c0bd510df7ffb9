"""Video of an automation run's page: CDP screencast frames, encoded to MP4 when the run ends.

The frames (acked one by one, at most ``FPS`` a second kept) go to a :class:`FrameFile` in a
temporary folder while the run goes on; :meth:`Recorder.stop` encodes them with ffmpeg
(node/video.py: each frame shown until the next, the last until the stop).

A recording never fails its job: without ffmpeg (or when it fails) :meth:`Recorder.stop` returns
None and the reason is logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog
from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from browserfleet.node.video import FrameFile, VideoError, encode, read_frames, screencast_params

log = structlog.get_logger(__name__)


class Recorder:
    def __init__(self, page: Page, ffmpeg: Path, *, width: int, height: int) -> None:
        self.page = page
        self.ffmpeg = ffmpeg
        self.width = width
        self.height = height
        self._dir = tempfile.TemporaryDirectory(prefix="bf-video-")
        self._frames = FrameFile(Path(self._dir.name) / "frames.bin")
        self._cdp: CDPSession | None = None
        self._on = False

    async def start(self) -> None:
        if not os.access(self.ffmpeg, os.X_OK):
            log.warning("video.ffmpeg_unavailable", ffmpeg=str(self.ffmpeg), error="not an executable")
            return
        try:
            self._cdp = await self.page.context.new_cdp_session(self.page)
            self._cdp.on("Page.screencastFrame", self._on_frame)
            await self._cdp.send("Page.startScreencast", screencast_params(self.width, self.height))
            self._on = True
        except PlaywrightError as exc:  # no video, but the run goes on
            log.warning("video.screencast_failed", error=str(exc).splitlines()[0])

    def _on_frame(self, params: dict[str, Any]) -> None:
        if self._cdp is not None:
            ack = self._cdp.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})
            task = asyncio.ensure_future(ack)
            task.add_done_callback(_ignore_result)
        timestamp = params.get("metadata", {}).get("timestamp") or time.time()
        self._frames.add(base64.b64decode(params["data"]), float(timestamp))

    async def stop(self) -> bytes | None:
        """End the recording; the MP4's bytes, or None if there is no video."""
        try:
            if not self._on:
                return None
            await self._stop_screencast()
            end = time.time()
            self._frames.close(end)
            if not self._frames.frames:
                log.warning("video.failed", frames=0, error="no frame")
                return None
            with self._frames.path.open("rb") as source:
                return await encode(self.ffmpeg, read_frames(source), end=end)
        except VideoError:
            return None  # logged where it happened
        finally:
            self._dir.cleanup()

    async def _stop_screencast(self) -> None:
        if self._cdp is None:
            return
        with contextlib.suppress(PlaywrightError):
            await self._cdp.send("Page.stopScreencast")
            await self._cdp.detach()

    async def abort(self) -> None:
        """Stop without a video (the job is being cancelled, or the screencast did not start)."""
        self._on = False
        self._frames.close(time.time())
        self._dir.cleanup()


def _ignore_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a frame ack after the page closed fails harmlessly
