"""The read path polling clients hit (api/finished.py, core/accounts.py's authentication cache).

A finished render is answered from memory, byte for byte what the route sends, with an ETag that
a conditional request turns into a 304; an unfinished one is read fresh on every poll; another
project's key still gets 404; and a key revoked behind the server's back stops working within
``auth_cache_s``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from browserfleet.api.finished import ResultCache
from browserfleet.core.accounts import hash_key
from tests.support.e2e import RenderApi, decode_html
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = pytest.mark.browser

AUTH_CACHE_S = 1.0  # the revocation test's server: short, so the test is quick


def cache_of(running: RunningServer) -> ResultCache:
    cache: ResultCache = running.server.config.app.state.result_cache
    return cache


def blob_dir(running: RunningServer, render_id: str) -> Path:
    return running.settings.blob_dir / render_id[-2:] / render_id


@pytest.fixture
def api(server: RunningServer, api_key: str) -> Iterator[RenderApi]:
    with RenderApi(server.url, api_key) as client:
        yield client


@pytest.fixture
def finished(api: RenderApi, site_url: str) -> tuple[str, httpx.Response]:
    """A completed render of the site's /bench page and its first completed answer."""
    render_id = api.create({"url": f"{site_url}/bench", "waitFor": []})
    done = api.wait(render_id)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    return render_id, done


def test_a_finished_render_is_answered_from_memory_byte_for_byte(
    server: RunningServer, api: RenderApi, finished: tuple[str, httpx.Response]
) -> None:
    render_id, first = finished
    etag = first.headers.get("etag")
    assert etag and etag.startswith('"') and etag.endswith('"')

    again, waited = api.get(render_id), api.get(render_id, wait=5)
    for answer in (again, waited):
        assert answer.status_code == 200
        assert answer.content == first.content
        assert answer.headers["etag"] == etag
        assert answer.headers["content-type"] == first.headers["content-type"]

    # no blob file is read per poll: with the render's files gone, memory still has its HTML...
    files = blob_dir(server, render_id)
    hidden = files.with_name(files.name + ".hidden")
    files.rename(hidden)
    try:
        assert api.get(render_id).content == first.content
        cache_of(server).clear()  # ...which a fresh read no longer finds (once the memory of
        server.forget_recent_blobs()  # and the memory of the blobs just written
        assert api.get(render_id).json()["html"] is None
    finally:
        shutil.rmtree(files, ignore_errors=True)
        hidden.rename(files)
    cache_of(server).clear()

    # without the cache (a fresh read through the route), the very same bytes and ETag
    fresh = api.get(render_id)
    assert fresh.content == first.content
    assert fresh.headers["etag"] == etag
    assert 'class="bench-row"' in decode_html(fresh.json()["html"])


def test_etag_round_trip(api: RenderApi, finished: tuple[str, httpx.Response]) -> None:
    render_id, first = finished
    etag = first.headers["etag"]
    url = f"/renders/{render_id}"
    for tag in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        unchanged = api.client.get(url, headers={"If-None-Match": tag})
        assert unchanged.status_code == 304, tag
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == etag
    changed = api.client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200
    assert changed.content == first.content


def test_a_failed_render_is_kept_too_without_an_etag(
    server: RunningServer, api: RenderApi, site_url: str
) -> None:
    never = {"type": "selector", "selector": "#never-there", "timeout": 1000}
    render_id = api.create({"url": f"{site_url}/bench", "waitFor": [never]})
    failed = api.wait(render_id)
    assert failed.status_code == 422, failed.text
    assert failed.json()["errorCode"] == "WAIT_TIMEOUT"
    assert "etag" not in failed.headers  # a 422 is not a representation to revalidate
    again = api.client.get(f"/renders/{render_id}", headers={"If-None-Match": "*"})
    assert (again.status_code, again.content) == (422, failed.content)
    cache_of(server).clear()
    assert api.get(render_id).content == failed.content


def test_an_unfinished_render_is_read_fresh(api: RenderApi, site_url: str) -> None:
    render_id = api.create({"url": f"{site_url}/bench", "waitFor": [{"type": "delay", "duration": 1500}]})
    processing = api.get(render_id)
    assert processing.status_code == 200
    assert processing.json() == {"status": "processing", "retryAfter": 1}
    assert "etag" not in processing.headers
    # a conditional poll with a made-up tag is still answered with the current state
    assert api.client.get(f"/renders/{render_id}", headers={"If-None-Match": "*"}).status_code == 200
    done = api.wait(render_id)
    assert done.json()["status"] == "completed"
    assert "etag" in done.headers


def test_another_projects_key_still_gets_404(
    harness: FleetHarness, server: RunningServer, api: RenderApi, finished: tuple[str, httpx.Response]
) -> None:
    render_id, first = finished
    assert api.get(render_id).content == first.content  # cached for its own project
    with RenderApi(server.url, harness.new_key(server)) as other:
        refused = other.get(render_id)
        assert refused.status_code == 404, refused.text
        assert "not found" in refused.json()["message"].lower()
        etag = first.headers["etag"]
        assert other.client.get(f"/renders/{render_id}", headers={"If-None-Match": etag}).status_code == 404
    for headers in ({}, {"Authorization": "Bearer bf_not-a-key"}):
        answer = httpx.get(f"{server.api}/renders/{render_id}", headers=headers)
        assert answer.status_code == 401, answer.text


def test_a_revoked_key_stops_within_auth_cache_s(harness: FleetHarness, site_url: str) -> None:
    running = harness.server(auth_cache_s=AUTH_CACHE_S)
    key = harness.new_key(running)
    store = running.fleet.store
    project = harness.run(running.fleet.accounts.authenticate(key))
    with RenderApi(running.url, key) as api:
        render_id = api.create({"url": f"{site_url}/bench", "waitFor": []})
        assert api.wait(render_id).status_code == 200
        assert api.get(render_id).status_code == 200  # answered from memory
        assert api.balance_cents() >= 0  # and through the route
        # revoked straight in the database, as another process (or an operator) would
        (record,) = [k for k in harness.run(store.api_keys(project.id)) if k.key_hash == hash_key(key)]
        revoked_at = time.monotonic()
        assert harness.run(store.revoke_api_key(project.id, record.id)) == record.key_hash
        deadline = revoked_at + AUTH_CACHE_S + 1.0  # the cache's time, plus a request's
        while api.get(render_id).status_code != 401 or api.client.get("/account/balance").status_code != 401:
            assert time.monotonic() < deadline, "the revoked key still works"
            time.sleep(0.05)
    harness.stop_server(running)


def test_revoking_in_the_server_is_at_once(
    harness: FleetHarness, server: RunningServer, site_url: str
) -> None:
    key = harness.new_key(server)
    accounts = server.fleet.accounts
    project = harness.run(accounts.authenticate(key))
    with RenderApi(server.url, key) as api:
        render_id = api.create({"url": f"{site_url}/bench", "waitFor": []})
        assert api.wait(render_id).status_code == 200
        assert api.get(render_id).status_code == 200
        (record,) = [k for k in harness.run(accounts.keys(project)) if k.key_hash == hash_key(key)]
        harness.run(accounts.revoke_key(project, record.id))
        assert api.get(render_id).status_code == 401


def test_an_ended_session_is_answered_from_memory(harness: FleetHarness, server: RunningServer) -> None:
    headers = {"X-BB-API-Key": harness.new_key(server)}  # the Sessions family's own carrier
    with httpx.Client(base_url=f"{server.url}/v1", headers=headers, timeout=30) as http:
        created = http.post("/sessions", json={})
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        live = http.get(f"/sessions/{session_id}")
        assert live.json()["status"] == "RUNNING"
        assert "etag" not in live.headers  # a live session's answer changes: read fresh
        released = http.post(f"/sessions/{session_id}", json={"status": "REQUEST_RELEASE"})
        assert released.status_code == 200, released.text
        deadline = time.monotonic() + 20
        while (ended := http.get(f"/sessions/{session_id}")).json()["status"] != "COMPLETED":
            assert time.monotonic() < deadline, ended.text
            time.sleep(0.1)
        etag = ended.headers["etag"]
        again = http.get(f"/sessions/{session_id}")
        assert again.content == ended.content
        assert again.headers["etag"] == etag
        assert http.get(f"/sessions/{session_id}", headers={"If-None-Match": etag}).status_code == 304
        cache_of(server).clear()
        assert http.get(f"/sessions/{session_id}").content == ended.content


def test_a_finished_run_from_memory_still_counts_against_the_rate_limit(
    harness: FleetHarness, site_url: str
) -> None:
    running = harness.server(automation_rate_limit=8, automation_rate_window_s=30)
    key = harness.new_key(running)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=running.url, headers=headers, timeout=60) as http:
        steps = [{"uid": "open", "action": "go", "config": {"url": f"{site_url}/click"}}]
        task = http.post("/v1/tasks", json={"name": "read path", "steps": steps}).json()
        run = http.post(f"/v1/tasks/{task['uid']}/runs", json={}).json()
        path = f"/v1/tasks/{task['uid']}/runs/{run['uid']}"
        finished = http.get(path, params={"wait": 30})
        assert finished.json()["status"] == "finished", finished.text
        again = http.get(path)
        assert again.content == finished.content
        assert again.headers["etag"] == finished.headers["etag"]
        answers = [http.get(path).status_code for _ in range(8)]  # 4 requests made so far
        assert answers[:4] == [200] * 4
        assert set(answers[4:]) == {429}
    harness.stop_server(running)
