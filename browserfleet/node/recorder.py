"""Video of a page: CDP screencast frames piped into ffmpeg (H.264 MP4, ``+faststart``).

``Page.startScreencast`` sends a JPEG frame whenever the page repaints; every frame is acked
(``Page.screencastFrameAck``, without which Chromium stops after a few frames). Frames arrive
irregularly (a static page sends one), so each frame is written as many times as it stayed on
screen, at a constant ``fps``, and the last one until the recording stops.

A recording never fails its job: without ffmpeg (or when it fails) :meth:`Recorder.stop` returns
None and the reason is logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog
from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

log = structlog.get_logger(__name__)
FPS = 10
JPEG_QUALITY = 60
MAX_FRAME_REPEAT = FPS * 60  # a frame stays at most a minute (bounds the work after a long idle)


class Recorder:
    def __init__(self, page: Page, ffmpeg: Path, *, width: int, height: int) -> None:
        self.page = page
        self.ffmpeg = ffmpeg
        self.width = width
        self.height = height
        self._dir = tempfile.TemporaryDirectory(prefix="bf-video-")
        self._out = Path(self._dir.name) / "video.mp4"
        self._proc: asyncio.subprocess.Process | None = None
        self._cdp: CDPSession | None = None
        self._frames: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._written = 0

    async def start(self) -> None:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                str(self.ffmpeg), *_ffmpeg_args(self._out),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
        except OSError as exc:
            log.warning("video.ffmpeg_unavailable", ffmpeg=str(self.ffmpeg), error=str(exc))
            return
        self._writer = asyncio.create_task(self._write_frames(), name="video-writer")
        try:
            self._cdp = await self.page.context.new_cdp_session(self.page)
            self._cdp.on("Page.screencastFrame", self._on_frame)
            await self._cdp.send(
                "Page.startScreencast",
                {"format": "jpeg", "quality": JPEG_QUALITY, "maxWidth": self.width, "maxHeight": self.height},
            )
        except PlaywrightError as exc:  # no video, but the run goes on
            log.warning("video.screencast_failed", error=str(exc).splitlines()[0])
            await self.abort()
            self._proc = None

    def _on_frame(self, params: dict[str, Any]) -> None:
        self._frames.put_nowait((base64.b64decode(params["data"]), time.monotonic()))
        if self._cdp is not None:
            ack = self._cdp.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})
            task = asyncio.ensure_future(ack)
            task.add_done_callback(_ignore_result)

    async def _write_frames(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        previous: tuple[bytes, float] | None = None
        while True:
            frame = await self._frames.get()
            now = frame[1] if frame else time.monotonic()
            if previous is not None:
                repeat = min(MAX_FRAME_REPEAT, max(1, round((now - previous[1]) * FPS)))
                for _ in range(repeat):
                    self._proc.stdin.write(previous[0])
                    self._written += 1
                await self._proc.stdin.drain()
            if frame is None:
                return
            previous = frame

    async def stop(self) -> bytes | None:
        """End the recording; the MP4's bytes, or None if there is no video."""
        if self._proc is None:
            self._dir.cleanup()
            return None
        try:
            await self._stop_screencast()
            return await self._finish()
        finally:
            self._dir.cleanup()

    async def _stop_screencast(self) -> None:
        if self._cdp is None:
            return
        with contextlib.suppress(PlaywrightError):
            await self._cdp.send("Page.stopScreencast")
            await self._cdp.detach()

    async def _finish(self) -> bytes | None:
        assert self._proc is not None and self._proc.stdin is not None
        self._frames.put_nowait(None)
        try:
            if self._writer is not None:
                await self._writer
        except (BrokenPipeError, ConnectionResetError):
            pass
        self._proc.stdin.close()
        _, stderr = await self._proc.communicate()
        if self._proc.returncode != 0 or not self._written:
            why = stderr.decode(errors="replace")[-500:] if self._proc.returncode else "no frame"
            log.warning("video.failed", code=self._proc.returncode, frames=self._written, error=why)
            return None
        return await asyncio.to_thread(self._out.read_bytes)

    async def abort(self) -> None:
        """Stop without a video (the job is being cancelled, or the screencast did not start)."""
        if self._writer is not None:
            self._writer.cancel()
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()
        self._dir.cleanup()


def _ffmpeg_args(out: Path) -> list[str]:
    return [
        "-hide_banner", "-loglevel", "error", "-y",
        "-f", "image2pipe", "-c:v", "mjpeg", "-framerate", str(FPS), "-i", "-",
        "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart",
        str(out),
    ]  # fmt: skip


def _ignore_result(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # a frame ack after the page closed fails harmlessly
