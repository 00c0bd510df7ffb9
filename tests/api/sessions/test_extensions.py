"""Extensions (docs/sessions.md "Extensions") through the official ``browserbase`` SDK, unchanged.

A Manifest V3 extension is built as a zip in the test: a content script that marks every page it
runs in (``document.body.dataset.ext`` and a ``div#bf-ext-marker``, both holding a token unique to
the test). It is uploaded with ``extensions.create``, a session is created with its id (top level,
and in ``browserSettings``), and Playwright over ``connect_url`` finds the marker on a test-site
page in the session's default context and in a context it creates itself. A session without the
extension shows no marker, and runs the headless shell rather than the full Chromium.

Also: retrieve and delete (then 404), another project's id (404; 400 at session create), an unknown
``extensionId`` (400 at create, no session started), an extension Chromium refuses (400 at create
with Chromium's reason), rejected uploads in the family's ``{statusCode, error, message}`` shape
(not a zip, corrupt, no manifest, bad JSON, JSON nested too deeply, Manifest V2, zip-slip, absolute
path, symlink, too many members, too large once unpacked), and the unpacked copies removed when sessions end.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import stat
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from browserbase import BadRequestError, Browserbase, NotFoundError
from playwright.sync_api import Page, sync_playwright

from browserfleet.core.jobs import JobKind
from browserfleet.node.session.executor import SessionExecutor
from tests.support.api_errors import project_id
from tests.support.contexts import zip_of
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.sessions import live

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("extensions")]
MAX_BYTES = 256 * 1024
MAX_FILES = 40
MARKED = "() => document.body && document.body.dataset.ext"
Files = dict[str, bytes | str]


@pytest.fixture(scope="module")
def temp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("extension-sessions")


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {
        "session_grace_s": 1.0,
        "session_min_timeout_s": 2,
        "extension_max_bytes": MAX_BYTES,
        "extension_max_files": MAX_FILES,
    }


@pytest.fixture(scope="module")
def sserver(sserver: RunningServer, temp_root: Path) -> RunningServer:
    executor = sserver.fleet.nodes[0].executors[JobKind.SESSION]
    assert isinstance(executor, SessionExecutor)
    executor.temp_root = temp_root  # this server's sessions only: their folders can be counted
    return sserver


def sdk(server: RunningServer, key: str) -> Browserbase:
    return Browserbase(api_key=key, base_url=server.url, max_retries=0)


def manifest(**overrides: Any) -> str:
    body: dict[str, Any] = {
        "manifest_version": 3,
        "name": "browserfleet marker",
        "version": "1.0.3",
        "content_scripts": [{"matches": ["<all_urls>"], "js": ["cs.js"], "run_at": "document_end"}],
    }
    body.update(overrides)
    return json.dumps(body)


def marker_extension(token: str) -> Files:
    script = (
        f"document.body.dataset.ext = {json.dumps(token)};"
        "const marker = document.createElement('div');"
        f"marker.id = 'bf-ext-marker'; marker.textContent = {json.dumps(token)};"
        "document.body.appendChild(marker);"
    )
    return {"manifest.json": manifest(), "cs.js": script, "icons/": b""}


def upload(server: RunningServer, key: str, data: bytes, name: str = "ext.zip") -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/extensions",
        headers={"X-BB-API-Key": key},
        files={"file": (name, data, "application/zip")},
        timeout=30,
    )


def assert_rejected(response: httpx.Response, status: int, needle: str) -> None:
    """The Sessions family's error shape, with ``needle`` in the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"statusCode", "error", "message"}, body
    assert body["statusCode"] == status
    assert body["error"] == {400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}[status]
    assert needle in body["message"], body


def marks(page: Page, url: str) -> tuple[str, str]:
    """``(dataset.ext, #bf-ext-marker text)`` of ``url`` once the content script ran."""
    page.goto(url)
    page.wait_for_function(MARKED, timeout=10_000)
    return page.evaluate(MARKED), page.inner_text("#bf-ext-marker")


def browser_binary(server: RunningServer, session_id: str) -> str:
    return os.readlink(f"/proc/{live(server, session_id).pid}/exe")


def test_extension_runs_in_every_context_of_its_session(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    token = secrets.token_hex(6)
    extension = client.extensions.create(
        file=("marker.zip", zip_of(marker_extension(token)), "application/zip")
    )
    assert extension.id.startswith("ext_")
    assert extension.file_name == "marker.zip"
    assert extension.project_id == project_id(harness, sserver, key)
    assert extension.created_at == extension.updated_at
    assert client.extensions.retrieve(extension.id) == extension

    session = client.sessions.create(extension_id=extension.id)
    plain = client.sessions.create()
    try:
        assert session.status == "RUNNING"
        # the full Chromium (the headless shell cannot load extensions); the plain session keeps the shell
        assert browser_binary(sserver, session.id).endswith("/chromium")
        assert browser_binary(sserver, plain.id).endswith("/chromium-headless-shell")
        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(session.connect_url)
            default_page = browser.contexts[0].new_page()
            assert marks(default_page, f"{site_url}/click") == (token, token)
            assert default_page.inner_text("#reveal")  # the page itself is intact
            fresh = browser.new_context()  # Target.createBrowserContext: incognito-like
            assert marks(fresh.new_page(), f"{site_url}/structured") == (token, token)
            fresh.close()
            browser.close()

            other = pw.chromium.connect_over_cdp(plain.connect_url)
            page = other.contexts[0].new_page()
            page.goto(f"{site_url}/click")
            page.wait_for_selector("#reveal")
            assert page.evaluate(MARKED) is None
            assert page.query_selector("#bf-ext-marker") is None
            other.close()
    finally:
        for ended in (session.id, plain.id):
            client.sessions.update(ended, status="REQUEST_RELEASE")


def test_extension_in_browser_settings_from_a_top_folder_zip(
    sserver: RunningServer, key: str, site_url: str, temp_root: Path
) -> None:
    client = sdk(sserver, key)
    token = secrets.token_hex(6)
    data = zip_of(marker_extension(token), top="my-extension/")
    with zipfile.ZipFile(io.BytesIO(data), "a") as archive:  # what macOS's Archive Utility adds
        archive.writestr("__MACOSX/my-extension/._cs.js", b"\x00\x05\x16\x07")
    extension = client.extensions.create(file=("packed.zip", data))
    session = client.sessions.create(browser_settings={"extension_id": extension.id})
    unpacked = Path(f"{live(sserver, session.id).user_data_dir}-extension")
    assert sorted(p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*")) == [
        "cs.js",
        "icons",
        "manifest.json",
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(session.connect_url)
        assert marks(browser.new_context().new_page(), f"{site_url}/click") == (token, token)
        browser.close()
    client.sessions.update(session.id, status="REQUEST_RELEASE")
    assert not unpacked.exists()
    assert [p.name for p in temp_root.iterdir()] == []  # user-data-dirs and unpacked copies gone


def test_retrieve_delete_and_other_projects(harness: FleetHarness, sserver: RunningServer, key: str) -> None:
    client = sdk(sserver, key)
    data = zip_of(marker_extension("a"))  # once: a zip carries its members' times
    extension = client.extensions.create(file=("a.zip", data))
    blob = sserver.settings.blob_dir / extension.id[-2:] / extension.id / "extension.zip"
    assert blob.read_bytes() == data

    other = sdk(sserver, harness.new_key(sserver))
    with pytest.raises(NotFoundError):
        other.extensions.retrieve(extension.id)
    with pytest.raises(NotFoundError):
        other.extensions.delete(extension.id)
    with pytest.raises(BadRequestError, match=f"extensionId: Extension {extension.id} not found"):
        other.sessions.create(extension_id=extension.id)
    assert other.sessions.list() == []  # no session was started
    assert client.extensions.retrieve(extension.id).id == extension.id  # untouched

    client.extensions.delete(extension.id)
    assert not blob.exists()
    with pytest.raises(NotFoundError):
        client.extensions.retrieve(extension.id)
    with pytest.raises(NotFoundError):
        client.extensions.delete(extension.id)
    response = httpx.get(f"{sserver.url}/v1/extensions/{extension.id}", headers={"X-BB-API-Key": key})
    assert_rejected(response, 404, f"Extension {extension.id} not found")
    with pytest.raises(BadRequestError, match="extensionId"):
        client.sessions.create(extension_id=extension.id)


def test_unknown_extension_id_is_refused_at_create(sserver: RunningServer, key: str) -> None:
    response = httpx.post(
        f"{sserver.url}/v1/sessions",
        headers={"X-BB-API-Key": key},
        json={"browserSettings": {"extensionId": "ext_nope"}},
        timeout=30,
    )
    assert_rejected(response, 400, "extensionId: Extension ext_nope not found")
    assert httpx.get(f"{sserver.url}/v1/sessions", headers={"X-BB-API-Key": key}).json() == []


def test_extension_chromium_refuses_fails_the_create(sserver: RunningServer, key: str) -> None:
    client = sdk(sserver, key)
    broken: Files = {"manifest.json": manifest()}  # its content script cs.js is missing
    extension = client.extensions.create(file=("broken.zip", zip_of(broken)))
    with pytest.raises(BadRequestError) as raised:
        client.sessions.create(extension_id=extension.id)
    message = str(raised.value)
    assert f"Extension {extension.id} could not be loaded: Chromium refused it" in message
    assert "cs.js" in message
    (ended,) = client.sessions.list()
    assert ended.status == "ERROR"


def test_extension_whose_zip_is_gone_fails_the_create(
    sserver: RunningServer, key: str, temp_root: Path
) -> None:
    client = sdk(sserver, key)
    extension = client.extensions.create(file=("gone.zip", zip_of(marker_extension("gone"))))
    (sserver.settings.blob_dir / extension.id[-2:] / extension.id / "extension.zip").unlink()
    sserver.forget_recent_blobs()
    with pytest.raises(BadRequestError, match="missing from the blob store"):
        client.sessions.create(extension_id=extension.id)
    (ended,) = client.sessions.list()
    assert ended.status == "ERROR"
    assert [p.name for p in temp_root.iterdir()] == []  # the failed start left nothing behind


def _symlink_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", manifest())
        link = zipfile.ZipInfo("cs.js")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


REJECTED = [
    pytest.param(b"just some text, not a zip", 400, "not a zip archive", id="not-a-zip"),
    pytest.param(b"PK\x03\x04" + b"\x00" * 60, 400, "corrupt", id="corrupt-zip"),
    pytest.param(zip_of({"cs.js": "1"}), 400, "No manifest.json", id="no-manifest"),
    pytest.param(
        zip_of({"a/manifest.json": manifest(), "b/cs.js": "1"}), 400, "No manifest.json", id="two-tops"
    ),
    pytest.param(zip_of({"a/b/manifest.json": manifest()}), 400, "No manifest.json", id="manifest-too-deep"),
    pytest.param(zip_of({"manifest.json": "{'manifest_version': 3,"}), 400, "not valid JSON", id="bad-json"),
    pytest.param(zip_of({"manifest.json": "[3]"}), 400, "must be a JSON object", id="not-an-object"),
    pytest.param(  # 3,000 levels: the JSON parser recurses once per level
        zip_of({"manifest.json": '{"a":' * 3000 + "1" + "}" * 3000}), 400, "nested too deeply", id="deep-json"
    ),
    pytest.param(zip_of({"manifest.json": manifest(manifest_version=2)}), 400, "manifest_version", id="mv2"),
    pytest.param(
        zip_of({"manifest.json": manifest(manifest_version="3")}), 400, "manifest_version", id="mv-str"
    ),
    pytest.param(zip_of({"manifest.json": manifest(name="  ")}), 400, "name", id="no-name"),
    pytest.param(zip_of({"manifest.json": manifest(version="1.0-beta")}), 400, "version", id="bad-version"),
    pytest.param(zip_of({"manifest.json": manifest(version=1)}), 400, "version", id="version-number"),
    pytest.param(
        zip_of({"manifest.json": manifest(), "../../escape.js": "1"}),
        400,
        "leaves the extension",
        id="zip-slip",
    ),
    pytest.param(zip_of({"manifest.json": manifest(), "/etc/cron.d/x": "1"}), 400, "absolute", id="absolute"),
    pytest.param(zip_of({"manifest.json": manifest(), "..\\evil.js": "1"}), 400, "backslash", id="backslash"),
    pytest.param(_symlink_zip(), 400, "link or a device", id="symlink"),
    pytest.param(
        zip_of({"manifest.json": manifest(), **{f"f{i}.js": "1" for i in range(MAX_FILES)}}),
        413,
        f"at most {MAX_FILES}",
        id="too-many-members",
    ),
    pytest.param(
        zip_of({"manifest.json": manifest(), "zeros.bin": b"\x00" * (MAX_BYTES + 1)}),
        413,
        "once unpacked",
        id="too-large-unpacked",
    ),
]


@pytest.mark.parametrize(("data", "status", "needle"), REJECTED)
def test_rejected_uploads(sserver: RunningServer, key: str, data: bytes, status: int, needle: str) -> None:
    before = sorted(sserver.settings.blob_dir.rglob("*"))
    assert_rejected(upload(sserver, key, data), status, needle)
    assert sorted(sserver.settings.blob_dir.rglob("*")) == before  # nothing stored


def test_upload_without_a_file_part_or_over_the_size_limit(sserver: RunningServer, key: str) -> None:
    response = httpx.post(
        f"{sserver.url}/v1/extensions", headers={"X-BB-API-Key": key}, files={"other": ("x.zip", b"PK")}
    )
    assert_rejected(response, 400, "one part named file")
    big = zip_of({"manifest.json": manifest(), "noise.bin": secrets.token_bytes(MAX_BYTES)})
    assert len(big) > MAX_BYTES
    assert_rejected(upload(sserver, key, big), 413, "byte limit")
    with pytest.raises(BadRequestError, match="not a zip archive"):
        sdk(sserver, key).extensions.create(file=("ext.zip", b"hello"))
