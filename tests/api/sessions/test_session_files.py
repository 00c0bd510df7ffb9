"""Session downloads and uploads (docs/sessions.md "Downloads" and "Uploads").

Downloads: a test-site page with an attachment link (``Content-Disposition``) and an ``<a download>``
blob link is clicked by Playwright (``connect_url``), Puppeteer (tests/js/puppeteer_download.mjs)
and Selenium (``seleniumRemoteUrl``); the zip from the official SDK's ``sessions.downloads.list``
holds the files with their exact names and bytes, ``DELETE`` empties it, it outlives the session,
another project's key gets 404, and a download past ``session_downloads_max_bytes`` is cancelled.

Uploads: ``sessions.uploads.create`` stores a file on the node and names it ``/uploads/<name>``
(never the server's data folder); that path is set on a test-site ``<input type=file>`` with CDP
``DOM.setFileInputFiles`` (Playwright CDP session) or Selenium's Send Keys, and the form posts it to
the test site, which echoes name and sha256.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browserbase import Browserbase, ConflictError
from playwright.sync_api import sync_playwright
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.remote_connection import RemoteConnection

from tests.site.session_files import attachment_bytes, blob_text
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.puppeteer import run_script
from tests.support.sessions import live, wait_status

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("session_files")]
LINKS = ("#download-attachment", "#download-blob")
LIMIT = 50_000  # the limited server: one 40000-byte attachment fits, a second does not


@pytest.fixture(scope="module")
def limited(harness: FleetHarness) -> Iterator[RunningServer]:
    running = harness.server(session_downloads_max_bytes=LIMIT, session_upload_max_bytes=1000)
    yield running
    harness.stop_server(running)


def expected(tag: str) -> dict[str, bytes]:
    return {f"data-{tag}.bin": attachment_bytes(tag), f"greeting-{tag}.txt": blob_text(tag).encode()}


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def downloads(client: Browserbase, session_id: str, want: int, timeout: float = 15) -> dict[str, bytes]:
    """The session's zip (official SDK) once it holds ``want`` files."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.sessions.downloads.list(session_id)
        assert response.http_response.headers["content-type"] == "application/zip"
        files = unzip(response.read())
        if len(files) >= want or time.monotonic() > deadline:
            return files
        time.sleep(0.1)


def release(client: Browserbase, session_id: str) -> None:
    client.sessions.update(session_id, status="REQUEST_RELEASE")


def test_playwright_downloads_zip_delete_and_after_the_end(
    server: RunningServer, api_key: str, site_url: str, harness: FleetHarness
) -> None:
    client = Browserbase(api_key=api_key, base_url=server.url)
    session = client.sessions.create(keep_alive=True)
    try:
        assert unzip(client.sessions.downloads.list(session.id).read()) == {}  # an empty zip at first
        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(session.connect_url)
            page = browser.contexts[0].new_page()
            page.goto(f"{site_url}/session-files?t=pw1")
            names = []
            for selector in LINKS:
                with page.expect_download() as info:  # Playwright's own download events still fire
                    page.click(selector)
                names.append(info.value.suggested_filename)
                assert info.value.failure() is None
            assert names == ["data-pw1.bin", "greeting-pw1.txt"]
            assert downloads(client, session.id, 2) == expected("pw1")

            # the same name again is kept beside the first one
            with page.expect_download():
                page.click("#download-attachment")
            files = downloads(client, session.id, 3)
            assert files["data-pw1 (1).bin"] == attachment_bytes("pw1")

            # another project cannot read or delete them
            with httpx.Client(
                base_url=server.url, headers={"X-BB-API-Key": harness.new_key(server)}
            ) as other:
                assert other.get(f"/v1/sessions/{session.id}/downloads").status_code == 404
                assert other.delete(f"/v1/sessions/{session.id}/downloads").status_code == 404
            assert len(downloads(client, session.id, 3)) == 3

            deleted = httpx.delete(
                f"{server.url}/v1/sessions/{session.id}/downloads", headers={"X-BB-API-Key": api_key}
            )
            assert deleted.status_code == 204
            assert unzip(client.sessions.downloads.list(session.id).read()) == {}

            # a page of a context the client creates later downloads into the session too
            context = browser.new_context()
            page2 = context.new_page()
            page2.goto(f"{site_url}/session-files?t=pw2")
            with page2.expect_download() as info:
                page2.click("#download-blob")
            assert info.value.suggested_filename == "greeting-pw2.txt"
            assert downloads(client, session.id, 1) == {"greeting-pw2.txt": blob_text("pw2").encode()}
            browser.close()
    finally:
        release(client, session.id)
    wait_status(server, api_key, session.id, {"COMPLETED"})
    # kept after the end (a blob of the session), still deletable
    assert downloads(client, session.id, 1) == {"greeting-pw2.txt": blob_text("pw2").encode()}
    assert not (server.fleet.settings.data_dir / "session-files" / session.id).exists()
    deleted = httpx.delete(
        f"{server.url}/v1/sessions/{session.id}/downloads", headers={"X-BB-API-Key": api_key}
    )
    assert deleted.status_code == 204
    assert unzip(client.sessions.downloads.list(session.id).read()) == {}


def test_puppeteer_downloads(server: RunningServer, api_key: str, site_url: str) -> None:
    client = Browserbase(api_key=api_key, base_url=server.url)
    session = client.sessions.create(keep_alive=True)
    try:
        page_url = f"{site_url}/session-files?t=pp"
        done = run_script("puppeteer_download.mjs", session.connect_url, page_url, *LINKS)
        assert done["completed"] == list(expected("pp"))
        assert downloads(client, session.id, 2) == expected("pp")
        assert not Path("/nonexistent").exists()  # the client's own path was never used
    finally:
        release(client, session.id)


def test_selenium_downloads(server: RunningServer, api_key: str, site_url: str) -> None:
    client = Browserbase(api_key=api_key, base_url=server.url)
    session = client.sessions.create(keep_alive=True)
    assert session.selenium_remote_url is not None
    try:
        config = ClientConfig(
            session.selenium_remote_url, timeout=30, extra_headers={"x-bb-signing-key": session.signing_key}
        )
        driver = webdriver.Remote(command_executor=RemoteConnection(client_config=config), options=Options())
        try:
            driver.get(f"{site_url}/session-files?t=se")
            for selector in LINKS:
                driver.find_element(By.CSS_SELECTOR, selector).click()
            assert downloads(client, session.id, 2) == expected("se")
        finally:
            driver.quit()
    finally:
        release(client, session.id)


def test_upload_is_set_on_a_file_input_and_posted(
    server: RunningServer, api_key: str, site_url: str, harness: FleetHarness
) -> None:
    client = Browserbase(api_key=api_key, base_url=server.url)
    session = client.sessions.create(keep_alive=True)
    content = os.urandom(300_000)
    try:
        answer = client.sessions.uploads.create(session.id, file=("../secret report.bin", content))
        path = re.sub(r"^Uploaded .* to ", "", answer.message)
        assert path == answer.to_dict()["path"] == "/uploads/secret report.bin"  # no folder escape
        folder = server.fleet.settings.data_dir.resolve() / "session-files" / session.id / "uploads"
        stored = folder / "secret report.bin"  # the documented place on the node
        assert stored.read_bytes() == content
        assert live(server, session.id).files is not None

        # another project: 404; not multipart: 400
        other = {"X-BB-API-Key": harness.new_key(server)}
        url = f"{server.url}/v1/sessions/{session.id}/uploads"
        assert httpx.post(url, headers=other, files={"file": ("x.txt", b"x")}).status_code == 404
        assert httpx.post(url, headers={"X-BB-API-Key": api_key}, data={"nofile": "1"}).status_code == 400

        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(session.connect_url)
            page = browser.contexts[0].new_page()
            page.goto(f"{site_url}/session-files?t=up")
            cdp = page.context.new_cdp_session(page)
            root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
            node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#upload-input"})["nodeId"]
            cdp.send("DOM.setFileInputFiles", {"files": [path], "nodeId": node})
            with page.expect_navigation():
                page.click("#upload-submit")
            echoed = json.loads(page.inner_text("body"))
            browser.close()
        assert echoed == {
            "name": "secret report.bin",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    finally:
        release(client, session.id)
    wait_status(server, api_key, session.id, {"COMPLETED"})
    assert not stored.exists()  # removed with the session
    with pytest.raises(ConflictError):  # the session is over
        client.sessions.uploads.create(session.id, file=("late.txt", b"late"))


def test_no_upload_answer_names_the_data_folder(
    server: RunningServer, api_key: str, harness: FleetHarness, site_url: str
) -> None:
    """Every answer of the upload route (stored, refused, not running) is free of the server's
    folders; the named path works with Selenium's Send Keys too (chromedriver sits next to the
    browser, where the session's uploads are at /uploads)."""
    data_dirs = {str(server.settings.data_dir), str(server.settings.data_dir.resolve())}
    client = Browserbase(api_key=api_key, base_url=server.url)
    session = client.sessions.create(keep_alive=True)
    url = f"{server.url}/v1/sessions/{session.id}/uploads"
    headers = {"X-BB-API-Key": api_key}
    content = b"for selenium " + os.urandom(64)
    answers: list[httpx.Response] = []
    try:
        answers.append(httpx.post(url, headers=headers, files={"file": ("cv.txt", content)}))
        assert answers[-1].status_code == 200
        assert answers[-1].json() == {
            "message": "Uploaded cv.txt to /uploads/cv.txt",
            "path": "/uploads/cv.txt",
        }
        answers.append(httpx.post(url, headers=headers, files={"file": ("/etc/../x y.txt", b"1")}))
        assert answers[-1].json()["path"] == "/uploads/x y.txt"
        answers.append(httpx.post(url, headers=headers, data={"nofile": "1"}))
        assert [a.status_code for a in answers] == [200, 200, 400]

        assert session.selenium_remote_url is not None
        config = ClientConfig(
            session.selenium_remote_url, timeout=30, extra_headers={"x-bb-signing-key": session.signing_key}
        )
        driver = webdriver.Remote(command_executor=RemoteConnection(client_config=config), options=Options())
        try:
            driver.get(f"{site_url}/session-files?t=sk")
            driver.find_element(By.CSS_SELECTOR, "#upload-input").send_keys("/uploads/cv.txt")
            driver.find_element(By.CSS_SELECTOR, "#upload-submit").click()
            echoed = json.loads(driver.find_element(By.TAG_NAME, "body").text)
        finally:
            driver.quit()
        assert echoed == {
            "name": "cv.txt",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    finally:
        release(client, session.id)
    wait_status(server, api_key, session.id, {"COMPLETED"})
    answers.append(httpx.post(url, headers=headers, files={"file": ("late.txt", b"late")}))
    assert answers[-1].status_code == 409
    for answer in answers:
        assert not any(folder in answer.text for folder in data_dirs), answer.text
        assert "session-files" not in answer.text, answer.text


def test_limits(limited: RunningServer, harness: FleetHarness, site_url: str) -> None:
    key = harness.new_key(limited)
    client = Browserbase(api_key=key, base_url=limited.url)
    session = client.sessions.create(keep_alive=True)
    try:
        url = f"{limited.url}/v1/sessions/{session.id}/uploads"
        too_big = httpx.post(url, headers={"X-BB-API-Key": key}, files={"file": ("big.bin", b"x" * 1001)})
        assert too_big.status_code == 413, too_big.text
        assert too_big.json()["statusCode"] == 413
        fits = httpx.post(url, headers={"X-BB-API-Key": key}, files={"file": ("ok.bin", b"y" * 1000)})
        assert fits.status_code == 200 and fits.json()["path"] == "/uploads/ok.bin"

        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(session.connect_url)
            page = browser.contexts[0].new_page()
            page.goto(f"{site_url}/session-files?t=lim1")
            with page.expect_download() as first:
                page.click("#download-attachment")
            assert first.value.failure() is None
            page.goto(f"{site_url}/session-files?t=lim2")
            with page.expect_download() as second:
                page.click("#download-attachment")
            # 2 x 40000 bytes > the 50000 byte limit: cancelled while arriving ("canceled"), or, if
            # it finished before the node could cancel it, dropped from the session's folder
            assert second.value.failure() in ("canceled", None)
            browser.close()
        assert downloads(client, session.id, 1) == {"data-lim1.bin": attachment_bytes("lim1")}
        assert live(limited, session.id).files is not None
        assert live(limited, session.id).files.cancelled == 1  # type: ignore[union-attr]
    finally:
        release(client, session.id)
