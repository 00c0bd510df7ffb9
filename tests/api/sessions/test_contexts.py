"""Contexts: saved browser profiles through the official ``browserbase`` SDK, unchanged.

Real servers, a real dedicated Chromium per session (Playwright ``connect_over_cdp`` over
``connect_url``, the session's default — persistent — browser context). Covers: cookies (a
persistent one and a session one) and localStorage carried from one session to the next with
``persist: true``; ``persist: false`` reads but never writes; the one-persisting-session rule
(409); project scoping; PUT with an empty body; the documented encrypted upload of a real
user-data-dir built with chromium-headless-shell; rejected uploads; encryption at rest.
"""

from __future__ import annotations

import io
import secrets
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from browserbase import BadRequestError, Browserbase, ConflictError, NotFoundError

from tests.support.contexts import build_profile, encrypt_upload, page_state, temp_dir, zip_dir, zip_of
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("contexts")]
MAX_BYTES = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {
        "session_grace_s": 1.0,
        "session_min_timeout_s": 2,
        "session_slots": 6,
        "context_max_bytes": MAX_BYTES,
    }


def sdk(server: RunningServer, key: str) -> Browserbase:
    return Browserbase(api_key=key, base_url=server.url, max_retries=0)


def on_context(context_id: str, persist: bool) -> dict[str, Any]:
    return {"context": {"id": context_id, "persist": persist}}


def release(client: Browserbase, session_id: str) -> None:
    ended = client.sessions.update(session_id, status="REQUEST_RELEASE")
    assert ended.status == "COMPLETED", ended


def blob_files(server: RunningServer, context_id: str) -> list[Path]:
    return sorted(p for p in server.settings.blob_dir.rglob("*") if p.is_file() and context_id in str(p))


SET_STATE = """([p, s, l]) => {
  document.cookie = 'bf_persistent=' + p + '; max-age=86400; path=/';
  document.cookie = 'bf_session=' + s + '; path=/';
  localStorage.setItem('bf_local', l);
}"""


def set_state(connect_url: str, url: str, p: str, s: str, local: str) -> None:
    script = f"({SET_STATE})({[p, s, local]!r})"
    state = page_state(connect_url, url, script)
    assert state["cookies"]["bf_persistent"] == p and state["cookies"]["bf_session"] == s
    assert state["local"] == local


def test_persisted_context_carries_cookies_and_storage(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    page = f"{site_url}/click"
    context = client.contexts.create()
    p, s, local = (secrets.token_hex(6) for _ in range(3))

    first = client.sessions.create(browser_settings=on_context(context.id, True))  # type: ignore[arg-type]
    assert first.context_id == context.id
    set_state(first.connect_url, page, p, s, local)
    release(client, first.id)

    # saved: the job recorded it, and the blob on disk holds neither the cookie nor an archive
    job = harness.run(sserver.fleet.store.get_job(first.id))
    assert job is not None and job.result is not None and job.result["contextSaved"] is True
    files = blob_files(sserver, context.id)
    assert len(files) == 1
    sealed = files[0].read_bytes()
    plain = harness.run(sserver.fleet.contexts.load_profile(context.id))
    assert plain is not None and plain[:2] == b"\x1f\x8b"  # the canonical tar.gz ...
    assert p.encode() in _tar_text(plain)  # ... whose cookie list holds the cookie value
    for needle in (p.encode(), s.encode(), b"\x1f\x8b\x08", b"bf_session", b"ustar"):
        assert needle not in sealed

    # a session on the context (persist) finds all three
    second = client.sessions.create(browser_settings=on_context(context.id, True))  # type: ignore[arg-type]
    state = page_state(second.connect_url, page)
    assert state["cookies"].get("bf_persistent") == p
    assert state["cookies"].get("bf_session") == s
    assert state["local"] == local
    release(client, second.id)
    files = blob_files(sserver, context.id)  # saved again (a new blob swapped in)
    assert len(files) == 1

    # a session without the context starts empty
    plain_session = client.sessions.create()
    state = page_state(plain_session.connect_url, page)
    assert "bf_persistent" not in state["cookies"] and "bf_session" not in state["cookies"]
    assert state["local"] is None
    release(client, plain_session.id)

    # persist: false reads the context, but what it changes is not saved
    reader = client.sessions.create(browser_settings=on_context(context.id, False))  # type: ignore[arg-type]
    state = page_state(reader.connect_url, page, "document.cookie = 'bf_reader=1; max-age=86400; path=/'")
    assert state["cookies"].get("bf_persistent") == p and state["cookies"].get("bf_reader") == "1"
    release(client, reader.id)
    assert blob_files(sserver, context.id) == files  # the same blob, untouched

    third = client.sessions.create(browser_settings=on_context(context.id, False))  # type: ignore[arg-type]
    state = page_state(third.connect_url, page)
    assert state["cookies"].get("bf_persistent") == p and state["cookies"].get("bf_session") == s
    assert "bf_reader" not in state["cookies"]
    release(client, third.id)


def _tar_text(archive: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        handle = tar.extractfile(".browserfleet-cookies.json")
        assert handle is not None
        return handle.read()


def test_one_persisting_session_per_context(sserver: RunningServer, key: str) -> None:
    client = sdk(sserver, key)
    context = client.contexts.create(name="shared")
    holder = client.sessions.create(browser_settings=on_context(context.id, True))  # type: ignore[arg-type]
    try:
        with pytest.raises(ConflictError) as conflict:
            client.sessions.create(browser_settings=on_context(context.id, True))  # type: ignore[arg-type]
        assert conflict.value.status_code == 409
        body = conflict.value.body
        assert isinstance(body, dict) and body["statusCode"] == 409 and holder.id in body["message"]
        reader = client.sessions.create(browser_settings=on_context(context.id, False))  # type: ignore[arg-type]
        assert reader.status == "RUNNING" and reader.context_id == context.id
        release(client, reader.id)
    finally:
        release(client, holder.id)

    # released: the context is free again; two creates racing → exactly one wins
    results: list[object] = []

    def create() -> None:
        try:
            results.append(client.sessions.create(browser_settings=on_context(context.id, True)))  # type: ignore[arg-type]
        except ConflictError as exc:
            results.append(exc)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    winners = [r for r in results if not isinstance(r, ConflictError)]
    assert len(results) == 2 and len(winners) == 1, results
    release(client, winners[0].id)  # type: ignore[attr-defined]


def test_contexts_are_scoped_to_their_project(
    harness: FleetHarness, sserver: RunningServer, key: str
) -> None:
    mine = sdk(sserver, key)
    other = sdk(sserver, harness.new_key(sserver))
    context = mine.contexts.create(name="  mine  ")
    got = mine.contexts.retrieve(context.id)
    assert (got.id, got.name) == (context.id, "mine")
    assert got.project_id == get_project_id(sserver, key)
    assert got.created_at <= got.updated_at

    with pytest.raises(NotFoundError):
        other.contexts.retrieve(context.id)
    with pytest.raises(NotFoundError), pytest.warns(DeprecationWarning):  # the SDK marks update deprecated
        other.contexts.update(context.id)
    with pytest.raises(NotFoundError):
        other.contexts.delete(context.id)
    for context_id in (context.id, "ctx_unknown"):
        with pytest.raises(BadRequestError) as bad:
            other.sessions.create(browser_settings=on_context(context_id, True))  # type: ignore[arg-type]
        body = bad.value.body
        assert isinstance(body, dict) and "browserSettings.context.id" in body["message"]
    assert mine.contexts.retrieve(context.id).id == context.id  # still there


def get_project_id(server: RunningServer, key: str) -> str:
    response = httpx.get(f"{server.url}/v1/projects", headers={"X-BB-API-Key": key}, timeout=10)
    projects = response.json()
    assert len(projects) == 1
    return str(projects[0]["id"])


def test_put_with_empty_body_renews_upload_fields_and_delete_removes_the_blob(
    sserver: RunningServer, key: str
) -> None:
    client = sdk(sserver, key)
    created = client.contexts.create()
    assert created.cipher_algorithm == "AES-256-CBC" and created.initialization_vector_size == 16
    assert created.public_key.startswith("-----BEGIN PUBLIC KEY-----")
    assert created.upload_url.startswith(f"{sserver.url}/v1/contexts/{created.id}/upload?token=")

    # the SDK sends PUT with Content-Type json and an empty body
    with pytest.warns(DeprecationWarning):  # the SDK marks update deprecated; it still calls PUT
        renewed = client.contexts.update(created.id)
    assert renewed.id == created.id
    assert renewed.public_key != created.public_key and renewed.upload_url != created.upload_url
    archive = zip_of({"Default/Preferences": b'{"profile": {"name": "t"}}'})
    stale = httpx.put(created.upload_url, content=encrypt_upload(created.public_key, archive), timeout=30)
    assert stale.status_code == 403, stale.text
    fresh = httpx.put(renewed.upload_url, content=encrypt_upload(renewed.public_key, archive), timeout=30)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["id"] == created.id
    assert len(blob_files(sserver, created.id)) == 1

    raw = httpx.delete(f"{sserver.url}/v1/contexts/{created.id}", headers={"X-BB-API-Key": key}, timeout=10)
    assert raw.status_code == 204 and raw.content == b""
    assert blob_files(sserver, created.id) == []
    with pytest.raises(NotFoundError):
        client.contexts.retrieve(created.id)


def test_upload_of_a_real_user_data_dir(sserver: RunningServer, key: str, site_url: str) -> None:
    client = sdk(sserver, key)
    context = client.contexts.create()
    value = secrets.token_hex(8)
    profile = temp_dir()
    build_profile(
        profile,
        {
            "name": "bf_uploaded",
            "value": value,
            "domain": "127.0.0.1",
            "path": "/",
            "expires": time.time() + 86400,
        },
    )
    assert (profile / "Default" / "Cookies").exists()
    archive = zip_dir(profile, prefix="my-profile/")  # wrapped in a folder, as zip tools do
    started = time.monotonic()
    response = httpx.put(context.upload_url, content=encrypt_upload(context.public_key, archive), timeout=60)
    upload_s = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert upload_s < 30

    session = client.sessions.create(browser_settings=on_context(context.id, False))  # type: ignore[arg-type]
    state = page_state(session.connect_url, f"{site_url}/click")
    assert state["cookies"].get("bf_uploaded") == value
    release(client, session.id)
    sealed = blob_files(sserver, context.id)[0].read_bytes()
    assert value.encode() not in sealed and b"SQLite format" not in sealed


def _tar_with_symlink() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("Default/evil")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    return buffer.getvalue()


def test_bad_uploads_are_refused(sserver: RunningServer, key: str) -> None:
    client = sdk(sserver, key)
    context = client.contexts.create()
    good = zip_of({"Default/Preferences": b"{}"})

    wrong = context.upload_url.split("?token=")[0] + "?token=" + secrets.token_urlsafe(32)
    for url in (wrong, context.upload_url.split("?")[0]):
        refused = httpx.put(url, content=encrypt_upload(context.public_key, good), timeout=30)
        assert refused.status_code == 403, refused.text
        assert refused.json()["statusCode"] == 403 and refused.json()["error"] == "Forbidden"

    cases = {
        "garbage": secrets.token_bytes(4096),
        "not an archive": encrypt_upload(context.public_key, b"just some text, no archive"),
        "zip slip": encrypt_upload(context.public_key, zip_of({"Default/ok": b"1", "../evil": b"x"})),
        "absolute": encrypt_upload(context.public_key, zip_of({"/etc/evil": b"x"})),
        "symlink": encrypt_upload(context.public_key, _tar_with_symlink()),
    }
    for case, body in cases.items():
        response = httpx.post(context.upload_url, content=body, timeout=30)
        assert response.status_code == 400, (case, response.text)
        envelope = response.json()
        assert envelope["statusCode"] == 400 and envelope["error"] == "Bad Request" and envelope["message"]

    # a small zip that unpacks beyond context_max_bytes
    bomb = encrypt_upload(context.public_key, zip_of({"Default/big": b"\0" * (MAX_BYTES + 1)}))
    assert len(bomb) < MAX_BYTES // 10
    too_big = httpx.put(context.upload_url, content=bomb, timeout=60)
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["statusCode"] == 413
    assert blob_files(sserver, context.id) == []  # nothing was stored
    posted = httpx.post(context.upload_url, content=encrypt_upload(context.public_key, good), timeout=30)
    assert posted.status_code == 200, posted.text
    assert len(blob_files(sserver, context.id)) == 1
