"""Recording downloads (``POST``/``GET /v1/sessions/{id}/recording/downloads``): an MP4 per page.

Real servers, a real dedicated Chromium per session, Playwright over ``connect_url`` as the client,
the official ``browserbase`` SDK (``sessions.recording.downloads.create``/``list``) to ask for the
videos, and Debian's ``ffprobe`` to check the files.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from browserbase import Browserbase, ConflictError, NotFoundError

from tests.support.automations import ffprobe
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.sessions import cdp_browser, release, sdk

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("recording_downloads")]
WIDTH, HEIGHT = 800, 600


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"session_grace_s": 1.0, "session_slots": 4}


def downloads(result: Any) -> list[dict[str, Any]]:
    return sorted(
        (d.model_dump(by_alias=True, exclude_none=True) for d in result.downloads), key=lambda d: d["pageId"]
    )


def drive_two_pages(connect_url: str, site_url: str) -> tuple[int, int]:
    """The first page: /click and a click that repaints; a second page: /search and a search.
    The first page's viewport as the page sees it."""
    with cdp_browser(connect_url) as browser:
        context = browser.contexts[0]
        page = context.pages[0]
        page.goto(f"{site_url}/click")
        page.wait_for_timeout(300)
        page.click("#reveal")
        page.wait_for_selector("#revealed")
        page.wait_for_timeout(300)
        other = context.new_page()
        other.goto(f"{site_url}/search")
        other.fill("#q", "video")
        other.click("#go")
        other.wait_for_selector("li.result")
        other.wait_for_timeout(300)
        size: list[int] = page.evaluate("() => [innerWidth, innerHeight]")
        return size[0], size[1]


def gray_frame(mp4: bytes, *, last: bool) -> bytes:
    """The first (or last) frame of a video as 8-bit gray pixels, row by row."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "video.mp4"
        path.write_bytes(mp4)
        seek = ["-sseof", "-0.05"] if last else []
        command = ["ffmpeg", "-v", "error", *seek, "-i", str(path), "-frames:v", "1", "-f", "rawvideo"]
        return subprocess.run([*command, "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout


def darkest(pixels: bytes, box: tuple[int, int, int, int]) -> int:
    """The darkest gray value in the box (left, top, right, bottom) of a WIDTH-wide frame."""
    left, top, right, bottom = box
    return min(min(pixels[y * WIDTH + left : y * WIDTH + right]) for y in range(top, bottom))


def wait_completed(client: Browserbase, session_id: str, timeout: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        listed = downloads(client.sessions.recording.downloads.list(session_id))
        if all(d["status"] in {"COMPLETED", "FAILED"} for d in listed) or time.monotonic() > deadline:
            return listed
        time.sleep(0.2)


def test_two_pages_give_two_playable_mp4s(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    viewport = {"width": WIDTH, "height": HEIGHT}
    session = client.sessions.create(keep_alive=True, browser_settings={"viewport": viewport})
    assert drive_two_pages(session.connect_url, site_url) == (WIDTH, HEIGHT)

    # while the session runs: 409 (and no retry by the SDK: x-should-retry false)
    with pytest.raises(ConflictError):
        client.sessions.recording.downloads.create(session.id)
    with pytest.raises(ConflictError):
        client.sessions.recording.downloads.list(session.id)

    release(client, sserver, key, session.id)
    before = downloads(client.sessions.recording.downloads.list(session.id))
    assert before == [{"pageId": "0", "status": "NOT_REQUESTED"}, {"pageId": "1", "status": "NOT_REQUESTED"}]

    requested = downloads(client.sessions.recording.downloads.create(session.id))
    assert [d["pageId"] for d in requested] == ["0", "1"]
    assert all(d["status"] in {"PENDING", "COMPLETED"} for d in requested)

    done = wait_completed(client, session.id)
    assert [d["status"] for d in done] == ["COMPLETED", "COMPLETED"], done
    # the same page numbers as the session's rrweb recording
    with pytest.warns(DeprecationWarning):
        events = client.sessions.recording.retrieve(session.id)
    assert {str(e.model_dump(by_alias=True)["pageId"]) for e in events} == {"0", "1"}

    for entry in done:
        assert entry["completedAt"] is not None
        video = httpx.get(entry["downloadUrl"], timeout=30)  # signed: no API key needed
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        probed = ffprobe(video.content)
        stream = probed["streams"][0]
        assert stream["codec_type"] == "video" and stream["codec_name"] == "h264"
        assert (stream["width"], stream["height"]) == (WIDTH, HEIGHT)
        assert float(probed["format"]["duration"]) > 0.5
        assert int(stream["nb_frames"]) >= 2  # the page repainted: more than one distinct frame
        if entry["pageId"] == "0":  # starts blank (about:blank), ends with the click's "You clicked it"
            revealed = (32, 128, 140, 146)
            assert darkest(gray_frame(video.content, last=False), revealed) > 200
            assert darkest(gray_frame(video.content, last=True), revealed) < 100

    # POST again: completed pages stay completed (nothing to redo)
    again = downloads(client.sessions.recording.downloads.create(session.id))
    assert [d["status"] for d in again] == ["COMPLETED", "COMPLETED"]


def test_download_urls_are_signed_and_project_scoped(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True)
    drive_two_pages(session.connect_url, site_url)
    release(client, sserver, key, session.id)
    client.sessions.recording.downloads.create(session.id)
    url = wait_completed(client, session.id)[0]["downloadUrl"]
    assert url.startswith(f"{sserver.url}/v1/sessions/{session.id}/recording/downloads/0.mp4?expires=")

    forged = httpx.get(url[:-4] + "0000", timeout=10)
    assert forged.status_code == 404
    plain = url.split("?")[0]
    assert httpx.get(plain, timeout=10).status_code == 404  # neither a signature nor a key
    with_key = httpx.get(plain, headers={"X-BB-API-Key": key}, timeout=10)
    assert with_key.status_code == 200 and with_key.content == httpx.get(url, timeout=10).content

    other_key = harness.new_key(sserver)
    assert httpx.get(plain, headers={"X-BB-API-Key": other_key}, timeout=10).status_code == 404
    other = sdk(sserver, other_key)
    with pytest.raises(NotFoundError):
        other.sessions.recording.downloads.list(session.id)
    with pytest.raises(NotFoundError):
        other.sessions.recording.downloads.create(session.id)


def test_a_download_name_that_is_not_a_page_number_is_404(
    sserver: RunningServer, key: str, site_url: str
) -> None:
    """Only ``<page number>.mp4`` as the list writes it (ASCII digits, bounded): another script's
    digit (U+0660 is 0 to ``int()``), a 400-digit number (too long a file name), a leading zero or
    sign are 404, and the keep-alive connection that asked stays usable (no 500)."""
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True)
    with cdp_browser(session.connect_url) as browser:
        page = browser.contexts[0].pages[0]
        page.goto(f"{site_url}/click")
        page.wait_for_timeout(300)
    release(client, sserver, key, session.id)
    client.sessions.recording.downloads.create(session.id)
    assert [d["status"] for d in wait_completed(client, session.id)] == ["COMPLETED"]

    base = f"{sserver.url}/v1/sessions/{session.id}/recording/downloads"
    with httpx.Client(headers={"X-BB-API-Key": key}, timeout=10) as keyed:
        for name in ("%D9%A0.mp4", "%EF%BC%90.mp4", "1" * 400 + ".mp4", "00.mp4", "+0.mp4", "%200.mp4"):
            answer = keyed.get(f"{base}/{name}")
            assert answer.status_code == 404, (name, answer.status_code, answer.text)
            assert answer.json()["statusCode"] == 404
        video = keyed.get(f"{base}/0.mp4")  # the same connection, still open
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"


def test_filming_stops_without_clients_and_resumes_when_one_connects(
    sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    viewport = {"width": WIDTH, "height": HEIGHT}
    session = client.sessions.create(keep_alive=True, browser_settings={"viewport": viewport})
    with cdp_browser(session.connect_url) as browser:
        browser.contexts[0].pages[0].goto(f"{site_url}/click")
    live = sserver.fleet.live_sessions.get(session.id)
    assert live is not None
    deadline = time.monotonic() + 10
    while live.clients and time.monotonic() < deadline:  # the proxy sees the client leave
        time.sleep(0.05)
    assert live.clients == 0
    time.sleep(1.5)  # past the idle stop: nothing is filmed now
    with cdp_browser(session.connect_url) as browser:  # a client again: filmed from its current picture
        page = browser.contexts[0].pages[0]
        page.wait_for_timeout(300)
        page.click("#reveal")
        page.wait_for_selector("#revealed")
        page.wait_for_timeout(300)
    release(client, sserver, key, session.id)
    client.sessions.recording.downloads.create(session.id)
    done = wait_completed(client, session.id)
    assert [(d["pageId"], d["status"]) for d in done] == [("0", "COMPLETED")]
    video = httpx.get(done[0]["downloadUrl"], timeout=30).content
    assert float(ffprobe(video)["format"]["duration"]) > 1.5  # the unfilmed stretch holds a picture
    revealed = (32, 128, 140, 146)
    assert darkest(gray_frame(video, last=True), revealed) < 100


def test_record_session_false_has_no_downloads(sserver: RunningServer, key: str, site_url: str) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True, browser_settings={"recordSession": False})
    drive_two_pages(session.connect_url, site_url)
    release(client, sserver, key, session.id)
    assert client.sessions.recording.downloads.create(session.id).downloads == []
    assert client.sessions.recording.downloads.list(session.id).downloads == []


def test_frames_are_bounded_per_session(harness: FleetHarness, site_url: str) -> None:
    limit = 40_000
    server = harness.server(session_video_max_bytes=limit, session_slots=2)
    try:
        key = harness.new_key(server)
        client = sdk(server, key)
        session = client.sessions.create(keep_alive=True)
        drive_two_pages(session.connect_url, site_url)
        release(client, server, key, session.id)
        stored = harness.run(server.fleet.blobs.get(session.id, "screencast.json"))
        assert stored is not None
        index = json.loads(stored)
        assert index["truncated"] is True and index["maxBytes"] == limit
        assert 0 < sum(page["bytes"] for page in index["pages"]) <= limit
        client.sessions.recording.downloads.create(session.id)
        done = wait_completed(client, session.id)
        assert [d["pageId"] for d in done] == [str(page["pageId"]) for page in index["pages"]]
        assert all(d["status"] == "COMPLETED" for d in done)  # what was kept still makes a video
    finally:
        harness.stop_server(server)
