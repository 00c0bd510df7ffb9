"""Sessions family: projects + usage, and ``POST /v1/fetch`` (a plain HTTP fetch run by the node).

The official ``browserbase`` SDK (unchanged) is the client wherever it can express the call; httpx
checks what the SDK hides (error bodies with ``id``, 429 headers). The module's server lowers
``fetch_timeout_s`` (2 s) and ``fetch_max_bytes`` (64 KiB) so timeouts and oversized bodies are
quick to provoke; its egress policy allows only 127.0.0.1 (the test site), so 10.0.0.1 is refused.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
from browserbase import (
    BadRequestError,
    Browserbase,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
)

from browserfleet.core.jobs import JobKind, JobState
from browserfleet.store.records import JobRecord
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.sessions import sdk

pytestmark = pytest.mark.xdist_group("projects-fetch")
FETCH_TIMEOUT_S = 2.0
MAX_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"fetch_timeout_s": FETCH_TIMEOUT_S, "fetch_max_bytes": MAX_BYTES}


def fetch_jobs(harness: FleetHarness, server: RunningServer, client: Browserbase) -> list[JobRecord]:
    project_id = client.projects.list()[0].id
    return harness.run(server.fleet.store.project_jobs(project_id, JobKind.FETCH))


def error_body(exc: Exception) -> dict[str, Any]:
    body = getattr(exc, "body", None)
    assert isinstance(body, dict), exc
    return body


# --- projects ---------------------------------------------------------------------------------


def test_projects_list_retrieve_and_isolation(
    harness: FleetHarness, sserver: RunningServer, key: str
) -> None:
    client = sdk(sserver, key)
    projects = client.projects.list()
    assert len(projects) == 1
    project = projects[0]
    record = harness.run(sserver.fleet.store.project_by_name(project.name))
    assert record is not None and record.id == project.id
    assert project.owner_id == project.id
    assert project.concurrency == record.concurrency_limit == 10
    assert 60 <= project.default_timeout <= 21600
    assert project.created_at == record.created_at and project.updated_at == project.created_at

    again = client.projects.retrieve(project.id)
    assert again.model_dump() == project.model_dump()

    other_key = harness.new_key(sserver, concurrency=3)
    other = sdk(sserver, other_key).projects.list()[0]
    assert other.id != project.id and other.concurrency == 3
    with pytest.raises(NotFoundError):
        client.projects.retrieve(other.id)
    with pytest.raises(NotFoundError):
        client.projects.usage(other.id)
    raw = httpx.get(f"{sserver.url}/v1/projects/{other.id}", headers={"X-BB-API-Key": key}, timeout=10)
    assert raw.status_code == 404
    assert raw.json() == {"statusCode": 404, "error": "Not Found", "message": f"Project {other.id} not found"}


@pytest.mark.browser
def test_usage_grows_with_sessions_and_fetches(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    project_id = client.projects.list()[0].id
    before = client.projects.usage(project_id)
    assert (before.browser_minutes, before.proxy_bytes) == (0, 0)

    session = client.sessions.create()
    assert session.status == "RUNNING"
    running = client.projects.usage(project_id)
    assert running.browser_minutes == 0  # counted once the session ends
    released = client.sessions.update(session.id, status="REQUEST_RELEASE")
    assert released.status == "COMPLETED"
    after_session = client.projects.usage(project_id)
    job = harness.run(sserver.fleet.store.get_job(session.id))
    assert job is not None and job.result is not None
    assert 0 < job.result["browserMinutes"] < 1
    assert after_session.browser_minutes == 1  # rounded up to whole minutes
    assert after_session.proxy_bytes == job.result["proxyBytes"]

    fetched = client.fetch_api.create(url=f"{site_url}/big?kb=20")
    assert fetched.status_code == 200
    fetch_job = harness.run(sserver.fleet.store.get_job(fetched.id))
    assert fetch_job is not None and fetch_job.result is not None
    assert fetch_job.result["proxyBytes"] > 20 * 1024
    after_fetch = client.projects.usage(project_id)
    assert after_fetch.proxy_bytes == after_session.proxy_bytes + fetch_job.result["proxyBytes"]
    assert after_fetch.browser_minutes == after_session.browser_minutes


# --- fetch ------------------------------------------------------------------------------------


def test_fetch_raw_json_and_markdown(sserver: RunningServer, key: str, site_url: str) -> None:
    client = sdk(sserver, key)
    raw = client.fetch_api.create(url=f"{site_url}/api/json?n=3")
    assert raw.id.startswith("fet_")
    assert raw.status_code == 200
    assert raw.content_type.startswith("application/json")
    assert raw.headers["content-type"] == raw.content_type
    assert raw.encoding == "utf-8"
    assert isinstance(raw.content, str)
    expected = {"n": 3, "items": [{"id": i, "name": f"Item {i}"} for i in (1, 2, 3)]}
    assert json.loads(raw.content) == expected

    parsed = client.fetch_api.create(url=f"{site_url}/api/json?n=3", format="json")
    assert parsed.content == expected
    assert parsed.id != raw.id

    page = client.fetch_api.create(url=f"{site_url}/big?kb=2", format="markdown")
    assert isinstance(page.content, str)
    lines = page.content.splitlines()
    assert lines[0] == "# Big page"
    assert "<p>" not in page.content and "Big page</title>" not in page.content
    paragraphs = [line for line in lines if line.startswith("Paragraph ")]
    assert paragraphs[0] == "Paragraph 0: the quick brown fox jumps over the lazy dog; checksum 000000."
    assert len(paragraphs) > 5

    with pytest.raises(InternalServerError) as not_json:
        client.fetch_api.create(url=f"{site_url}/api/text", format="json")
    body = error_body(not_json.value)
    assert body["statusCode"] == 502 and body["id"].startswith("fet_")
    assert "not valid JSON" in body["message"]


def test_fetch_markdown_tables_lists_code_and_absolute_links(
    sserver: RunningServer, key: str, site_url: str
) -> None:
    """Links are made absolute against the page's own URL: after a redirect, the URL it ended on."""
    client = sdk(sserver, key)
    page = client.fetch_api.create(
        url=f"{site_url}/redirect?to=/docs/markdown", allow_redirects=True, format="markdown"
    )
    content = page.content
    assert isinstance(content, str)
    assert content.startswith("# Markdown page\n") and "a script is not content" not in content
    assert f"[sibling]({site_url}/docs/guide.html)" in content
    assert f"[rooted]({site_url}/api/json?n=2)" in content
    assert f"[parent]({site_url}/index.html)" in content
    assert f"[fragment]({site_url}/docs/markdown#part)" in content
    assert f"![logo]({site_url}/docs/img/logo.png)" in content
    assert "| Pear \\| Quince | 5   |" in content
    assert "- one\n  * one.a\n  * one.b\n    1. deep 1\n    2. deep 2\n- two" in content
    assert "```python\ndef double(x):\n    if x:\n        return  x * 2  # two spaces kept\n```" in content


def test_fetch_redirects_and_status_pass_through(sserver: RunningServer, key: str, site_url: str) -> None:
    client = sdk(sserver, key)
    target = "/api/json?n=2"
    unfollowed = client.fetch_api.create(url=f"{site_url}/redirect?to={target}")
    assert unfollowed.status_code == 302
    assert unfollowed.headers["location"] == target
    assert "items" not in unfollowed.content

    followed = client.fetch_api.create(url=f"{site_url}/redirect?to={target}", allow_redirects=True)
    assert followed.status_code == 200
    assert isinstance(followed.content, str)
    assert json.loads(followed.content)["n"] == 2

    missing = client.fetch_api.create(url=f"{site_url}/api/status/404", format="json")
    assert missing.status_code == 404
    assert missing.content == {"status": 404}


def test_fetch_too_large_is_502_with_id_and_not_retried(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    small = client.fetch_api.create(url=f"{site_url}/big?kb=32")
    assert len(small.content) >= 32 * 1024
    with pytest.raises(InternalServerError) as caught:
        client.fetch_api.create(url=f"{site_url}/big?kb=200")
    body = error_body(caught.value)
    assert body["statusCode"] == 502 and body["error"] == "Bad Gateway"
    assert str(MAX_BYTES) in body["message"]
    assert caught.value.response.headers["x-should-retry"] == "false"
    jobs = fetch_jobs(harness, sserver, client)
    assert len(jobs) == 2  # the SDK did not retry the 502
    failed = next(j for j in jobs if j.id == body["id"])
    assert failed.state is JobState.FAILED and failed.error_code == "FETCH_TOO_LARGE"
    assert failed.charged_cents == 0


def test_fetch_timeout_is_504_with_id(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    started = time.monotonic()
    with pytest.raises(InternalServerError) as caught:
        client.fetch_api.create(url=f"{site_url}/slow?ms=8000")
    elapsed = time.monotonic() - started
    assert FETCH_TIMEOUT_S <= elapsed < FETCH_TIMEOUT_S + 3  # one attempt, bounded by the setting
    body = error_body(caught.value)
    assert body["statusCode"] == 504 and body["error"] == "Gateway Timeout"
    job = harness.run(sserver.fleet.store.get_job(body["id"]))
    assert job is not None and job.error_code == "FETCH_TIMEOUT" and job.kind is JobKind.FETCH


def test_fetch_concurrency_429_with_id(harness: FleetHarness, sserver: RunningServer, site_url: str) -> None:
    key = harness.new_key(sserver, concurrency=1)
    headers = {"X-BB-API-Key": key}
    slow: dict[str, httpx.Response] = {}

    def hold() -> None:
        slow["r"] = httpx.post(
            f"{sserver.url}/v1/fetch", json={"url": f"{site_url}/slow?ms=1200"}, headers=headers, timeout=20
        )

    thread = threading.Thread(target=hold)
    thread.start()
    project_id = httpx.get(f"{sserver.url}/v1/projects", headers=headers, timeout=10).json()[0]["id"]
    deadline = time.monotonic() + 5
    while harness.run(sserver.fleet.store.count_active(project_id, JobKind.FETCH)) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    second = httpx.post(
        f"{sserver.url}/v1/fetch", json={"url": f"{site_url}/api/text"}, headers=headers, timeout=20
    )
    thread.join(20)
    assert second.status_code == 429
    body = second.json()
    assert body["statusCode"] == 429 and body["id"].startswith("fet_")
    assert "Concurrent fetch limit reached (1/1)" in body["message"]
    assert second.headers["x-ratelimit-limit"] == "1" and second.headers["x-ratelimit-remaining"] == "0"
    assert second.headers["x-should-retry"] == "true" and "retry-after" in second.headers
    assert slow["r"].status_code == 200 and slow["r"].json()["statusCode"] == 200


def test_fetch_invalid_requests(sserver: RunningServer, key: str, site_url: str) -> None:
    client = sdk(sserver, key)
    with pytest.raises(BadRequestError) as bad_url:
        client.fetch_api.create(url="ftp://127.0.0.1/file")
    assert error_body(bad_url.value)["id"].startswith("fet_")
    with pytest.raises(BadRequestError) as no_exit:
        client.fetch_api.create(url=f"{site_url}/api/text", proxies=True)
    body = error_body(no_exit.value)
    assert body["statusCode"] == 400 and "exit proxy" in body["message"] and body["id"].startswith("fet_")
    with pytest.raises(BadRequestError) as context:
        client.fetch_api.create(url=f"{site_url}/api/text", context_id="ctx_unknown")
    assert "contextId" in error_body(context.value)["message"]


def test_fetch_egress_policy_blocks_before_any_traffic(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    strict = harness.server(egress_allow=[])
    try:
        strict_client = sdk(strict, harness.new_key(strict))
        for url, ip in (
            ("http://10.0.0.1/", "10.0.0.1"),
            ("https://10.0.0.1/x", "10.0.0.1"),
            (site_url, "127.0.0.1"),
        ):
            with pytest.raises(PermissionDeniedError) as caught:
                strict_client.fetch_api.create(url=url)
            body = error_body(caught.value)
            assert body["statusCode"] == 403 and body["id"].startswith("fet_")
            assert "egress policy" in body["message"] and ip in body["message"]
            job = harness.run(strict.fleet.store.get_job(body["id"]))
            assert job is not None and job.error_code == "EGRESS_BLOCKED" and job.result is not None
            assert job.result["proxyBytes"] == 0
            assert [b["ip"] for b in job.result["blocked"]] == [ip]
    finally:
        harness.stop_server(strict)

    # a redirect towards a private address is refused too (the test site itself is allowed here)
    client = sdk(sserver, key)
    with pytest.raises(PermissionDeniedError) as redirected:
        client.fetch_api.create(url=f"{site_url}/redirect?to=http://10.0.0.1/admin", allow_redirects=True)
    assert "10.0.0.1" in error_body(redirected.value)["message"]
