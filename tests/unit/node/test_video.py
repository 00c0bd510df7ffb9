"""Videos from screencast frames (node/video.py) and the session video encoder
(node/session/videos.py).

Real ffmpeg/ffprobe (Debian's package), real JPEGs made by ffmpeg, a real file blob store.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from pathlib import Path

import pytest

from browserfleet.node.session.screencast import INDEX_BLOB, frames_blob
from browserfleet.node.session.videos import SessionVideos, VideoStatus, video_blob
from browserfleet.node.video import FPS, FrameFile, encode, jpeg_size, pack_frame, read_frames
from browserfleet.store.blobs import FileBlobStore
from tests.support.automations import ffprobe

FFMPEG = Path("/usr/bin/ffmpeg")
T0 = 1_800_000_000.0


def jpeg(width: int, height: int, colour: str) -> bytes:
    command = [
        str(FFMPEG), "-hide_banner", "-loglevel", "error",
        "-f", "lavfi", "-i", f"color=c={colour}:s={width}x{height}",
        "-frames:v", "1", "-f", "image2pipe", "-c:v", "mjpeg", "-",
    ]  # fmt: skip
    return subprocess.run(command, check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def red() -> bytes:
    return jpeg(320, 200, "red")


@pytest.fixture(scope="module")
def blue() -> bytes:
    return jpeg(160, 100, "blue")


def test_jpeg_size(red: bytes, blue: bytes) -> None:
    assert jpeg_size(red) == (320, 200)
    assert jpeg_size(blue) == (160, 100)
    assert jpeg_size(b"not a jpeg") is None


def test_frame_file_keeps_at_most_fps_frames_a_second(tmp_path: Path, red: bytes, blue: bytes) -> None:
    frames = FrameFile(tmp_path / "page.frames")
    written = sum(frames.add(red if i % 2 else blue, T0 + i / 60) for i in range(60))  # 1 s at 60 fps
    written += frames.close(T0 + 2)
    assert frames.frames == FPS and written == frames.bytes == (tmp_path / "page.frames").stat().st_size
    with (tmp_path / "page.frames").open("rb") as source:
        kept = list(read_frames(source))
    assert len(kept) == FPS
    assert kept[-1].timestamp == T0 + 59 / 60 and kept[-1].data == red  # a slot keeps its last frame
    assert [f.timestamp for f in kept] == sorted(f.timestamp for f in kept)
    assert frames.first == kept[0].timestamp and frames.end == T0 + 2
    assert frames.add(red, T0 + 3) == 0  # closed


def test_encode_shows_each_frame_until_the_next_in_the_largest_size(red: bytes, blue: bytes) -> None:
    frames = [(T0, red), (T0 + 1, blue), (T0 + 1.02, red), (T0 + 31, blue)]  # 30 s still, then one more
    buffer = io.BytesIO()
    for timestamp, data in frames:
        buffer.write(pack_frame(timestamp, data))
    buffer.seek(0)
    mp4 = asyncio.run(encode(FFMPEG, read_frames(buffer), end=T0 + 32))
    probed = ffprobe(mp4)
    stream = probed["streams"][0]
    assert stream["codec_name"] == "h264" and (stream["width"], stream["height"]) == (320, 200)
    assert abs(float(probed["format"]["duration"]) - 32) < 0.3
    # the two frames of one tick became one, and no frame per tick over the still 30 s: 3 frames,
    # plus the last one again at the end (how ffmpeg's concat demuxer honours its duration)
    assert int(stream["nb_frames"]) == 4


def test_session_videos_statuses_failure_retry_and_resume(tmp_path: Path, red: bytes, blue: bytes) -> None:
    async def scenario() -> None:
        blobs = FileBlobStore(tmp_path / "blobs")
        session = "sess_video_1"
        await _put_recorded(blobs, session, {0: [(T0, red), (T0 + 1, blue)], 1: [(T0 + 0.5, blue)]})
        broken = SessionVideos(blobs, tmp_path / "no-ffmpeg")
        assert [v.status for v in await broken.statuses(session)] == [VideoStatus.NOT_REQUESTED] * 2
        assert [v.status for v in await broken.request(session)] == [VideoStatus.PENDING] * 2
        failed = await _settled(broken, session)
        assert [v.status for v in failed] == [VideoStatus.FAILED] * 2
        assert all(v.completed_at is None for v in failed)

        videos = SessionVideos(blobs, FFMPEG)  # POST again: failed pages are retried
        assert [v.status for v in await videos.request(session)] == [VideoStatus.PENDING] * 2
        done = await _settled(videos, session)
        assert [(v.page_id, v.status) for v in done] == [
            (0, VideoStatus.COMPLETED),
            (1, VideoStatus.COMPLETED),
        ]
        assert all(v.completed_at is not None for v in done)
        mp4 = await videos.video(session, 0)
        assert mp4 is not None and ffprobe(mp4)["streams"][0]["width"] == 320

        # a page left PENDING by a process that stopped is encoded by the next one that reads it
        await blobs.delete(session, video_blob(1))
        await blobs.put(session, "videos.json", json.dumps({"1": {"status": "PENDING"}}).encode())
        resumed = SessionVideos(blobs, FFMPEG)
        assert [v.status for v in await resumed.statuses(session)][1] is VideoStatus.PENDING
        assert [v.status for v in await _settled(resumed, session)][1] is VideoStatus.COMPLETED
        assert await resumed.video(session, 1) is not None

        assert await videos.statuses("sess_never_recorded") == []
        assert await videos.request("sess_never_recorded") == []

    asyncio.run(scenario())


async def _settled(videos: SessionVideos, session: str) -> list[object]:
    for _ in range(300):
        listed = await videos.statuses(session)
        if all(v.status is not VideoStatus.PENDING for v in listed):
            return listed  # type: ignore[return-value]
        await asyncio.sleep(0.1)
    raise AssertionError("still PENDING")


async def _put_recorded(
    blobs: FileBlobStore, session: str, pages: dict[int, list[tuple[float, bytes]]]
) -> None:
    index = []
    for page_id, frames in pages.items():
        data = b"".join(pack_frame(t, d) for t, d in frames)
        await blobs.put(session, frames_blob(page_id), data)
        index.append(
            {"pageId": page_id, "frames": len(frames), "bytes": len(data), "endedAt": frames[-1][0] + 1}
        )
    await blobs.put(session, INDEX_BLOB, json.dumps({"pages": index}).encode())
