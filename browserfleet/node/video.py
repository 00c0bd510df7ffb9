"""Videos from CDP screencast frames: timestamped JPEGs kept on disk, then one ffmpeg encode.

``Page.startScreencast`` sends a JPEG frame whenever the page repaints (a static page sends one),
each to be acked (``Page.screencastFrameAck``; without acks Chromium stops after a few frames).
Both video producers keep the frames first and encode once at the end:

* an automation run's video (node/recorder.py), encoded when the run ends;
* a session's per-page videos (node/session/screencast.py stores the frames while the session
  runs; node/session/videos.py encodes them on ``POST …/recording/downloads``).

Frames on disk (:class:`FrameFile`): an append-only file of records, each a little-endian header
``<dI`` (the frame's wall-clock time in seconds, as in the frame's ``metadata.timestamp``; the
JPEG's length) and the JPEG. At most ``fps`` frames per second are kept: within one ``1/fps`` slot
the last frame wins, so a burst of repaints costs one frame.

Encoding (:func:`encode`): each frame is shown until the next one (the last until ``end``), as a
variable-frame-rate H.264 MP4 (``yuv420p``, ``+faststart``) made by ffmpeg's concat demuxer, so a
long still stretch costs one frame, not one per tick. Frames of another size (a client changed the
viewport) are scaled into the video's size, the largest frame seen, letterboxed.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import structlog

log = structlog.get_logger(__name__)
FPS = 10  # frames kept per second, at most
JPEG_QUALITY = 60
ENCODE_TIMEOUT_S = 600.0
_HEADER = struct.Struct("<dI")
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


class VideoError(Exception):
    """No video: ffmpeg is missing or failed, or there was no frame."""


@dataclass(frozen=True)
class Frame:
    timestamp: float  # wall-clock seconds
    data: bytes  # a JPEG


def screencast_params(width: int, height: int) -> dict[str, object]:
    """``Page.startScreencast`` parameters for frames at most ``width`` by ``height``."""
    return {"format": "jpeg", "quality": JPEG_QUALITY, "maxWidth": width, "maxHeight": height}


class FrameFile:
    """Timestamped frames appended to one file, at most ``fps`` a second (see the module doc)."""

    def __init__(self, path: Path, *, fps: int = FPS) -> None:
        self.path = path
        self.fps = fps
        self.frames = 0  # frames written
        self.bytes = 0  # bytes written (headers included)
        self.first: float | None = None
        self.last: float | None = None
        self.end: float | None = None  # set by close()
        self._held: tuple[int, float, bytes] | None = None  # (slot, timestamp, jpeg) not yet written

    def add(self, data: bytes, timestamp: float) -> int:
        """Keep a frame; the bytes this wrote to disk (0 while the frame's slot is still open)."""
        if self.end is not None:
            return 0
        slot = int(timestamp * self.fps)
        written = 0
        if self._held is not None and self._held[0] != slot:
            written = self._write(self._held[1], self._held[2])
        self._held = (slot, timestamp, data)
        return written

    def close(self, end: float) -> int:
        """Write the held frame and stop; ``end`` is when the last frame stopped showing."""
        written = 0
        if self._held is not None:
            written = self._write(self._held[1], self._held[2])
            self._held = None
        if self.end is None:
            self.end = max(end, self.last or end)
        return written

    @property
    def stored(self) -> int:
        """Bytes written plus the frame held for its slot (what closing would leave on disk)."""
        return self.bytes + (record_size(self._held[2]) if self._held is not None else 0)

    def _write(self, timestamp: float, data: bytes) -> int:
        # open per frame (at most ``fps`` a second): no handle outlives a session that never closes
        record = pack_frame(timestamp, data)
        with self.path.open("ab") as out:
            out.write(record)
        self.frames += 1
        self.bytes += len(record)
        self.first = timestamp if self.first is None else self.first
        self.last = timestamp
        return len(record)


def record_size(data: bytes) -> int:
    """The bytes a frame takes in the frames format."""
    return _HEADER.size + len(data)


def pack_frame(timestamp: float, data: bytes) -> bytes:
    """One frame as a record of the frames format (see the module doc)."""
    return _HEADER.pack(timestamp, len(data)) + data


def read_frames(source: BinaryIO) -> Iterator[Frame]:
    """The frames of a :class:`FrameFile`'s content (a cut-off last record is ignored)."""
    while True:
        header = source.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        timestamp, length = _HEADER.unpack(header)
        data = source.read(length)
        if len(data) < length:
            return
        yield Frame(timestamp, data)


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame marker; None if it has none."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


async def encode(ffmpeg: Path, frames: Iterator[Frame], *, end: float | None = None) -> bytes:
    """The MP4 of ``frames`` (in time order; the last one shown until ``end``). Raises VideoError."""
    with tempfile.TemporaryDirectory(prefix="bf-video-") as name:
        folder = Path(name)
        size = await asyncio.to_thread(_write_concat, folder, frames, end)
        if size is None:
            raise VideoError("no frame")
        out = folder / "video.mp4"
        await _run_ffmpeg(ffmpeg, _ffmpeg_args(folder / "frames.txt", out, size))
        return await asyncio.to_thread(out.read_bytes)


def _write_concat(folder: Path, frames: Iterator[Frame], end: float | None) -> tuple[int, int] | None:
    """Each distinct frame as a file and the concat list showing it until the next; the video size.

    Times are put on the ``1/FPS`` grid (frames on the same tick: the last wins), so every
    duration is at least one tick and the timestamps strictly increase."""
    width = height = 0
    entries: list[tuple[int, str]] = []  # (tick, file name)
    for frame in frames:
        tick = round(frame.timestamp * FPS)
        file_name = f"f{len(entries):07d}.jpg"
        if entries and entries[-1][0] >= tick:
            file_name = entries.pop()[1]  # replaced by the later frame of the same tick
        (folder / file_name).write_bytes(frame.data)
        entries.append((tick, file_name))
        size = jpeg_size(frame.data)
        if size is not None:
            width, height = max(width, size[0]), max(height, size[1])
    if not entries or width < 2 or height < 2:
        return None
    last_tick = max(entries[-1][0] + 1, round(end * FPS) if end is not None else 0)
    lines = ["ffconcat version 1.0"]
    for (tick, file_name), next_tick in zip(entries, [t for t, _ in entries[1:]] + [last_tick], strict=True):
        lines += [f"file '{file_name}'", f"duration {(next_tick - tick) / FPS:.3f}"]
    lines.append(f"file '{entries[-1][1]}'")  # the concat demuxer honours the last duration only so
    (folder / "frames.txt").write_text("\n".join(lines) + "\n")
    return width - width % 2, height - height % 2


def _ffmpeg_args(concat: Path, out: Path, size: tuple[int, int]) -> list[str]:
    width, height = size
    fit = (
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1"
    )
    return [
        "-hide_banner", "-loglevel", "error", "-y",
        "-f", "concat", "-i", str(concat),
        "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-vf", fit, "-fps_mode", "vfr", "-movflags", "+faststart",
        str(out),
    ]  # fmt: skip


async def _run_ffmpeg(ffmpeg: Path, args: list[str]) -> None:
    try:
        proc = await asyncio.create_subprocess_exec(
            str(ffmpeg), *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    except OSError as exc:
        log.warning("video.ffmpeg_unavailable", ffmpeg=str(ffmpeg), error=str(exc))
        raise VideoError(f"ffmpeg unavailable: {exc}") from exc
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), ENCODE_TIMEOUT_S)
    except BaseException as exc:  # timed out or cancelled: the encoder does not outlive its caller
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        if isinstance(exc, TimeoutError):
            log.warning("video.failed", error="timeout", timeout_s=ENCODE_TIMEOUT_S)
            raise VideoError(f"ffmpeg took longer than {ENCODE_TIMEOUT_S:.0f} s") from exc
        raise
    if proc.returncode != 0:
        error = stderr.decode(errors="replace")[-500:]
        log.warning("video.failed", code=proc.returncode, error=error)
        raise VideoError(f"ffmpeg exited with {proc.returncode}: {error}")
