"""Sessions API, first slice: create/get/list/release, CDP connect through the proxy, lifecycle.

Real servers and a real dedicated Chromium per session; the official ``browserbase`` SDK (unchanged)
is the client for the REST calls it can express, Playwright ``connect_over_cdp`` drives the browser
over ``connect_url``. The module's server lowers ``session_min_timeout_s`` (2 s) and
``session_grace_s`` (1 s) so timeout and grace-period endings are quick to observe.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import websockets.sync.client as ws_client
from browserbase import Browserbase, NotFoundError
from playwright.sync_api import sync_playwright
from websockets.exceptions import InvalidStatus

from browserfleet.store.records import JobRecord
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.sessions import get_session, live, page_targets, process_gone, wait_status

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("sessions")]
GRACE_S = 1.0
SESSION_FIELDS = {
    "id",
    "createdAt",
    "updatedAt",
    "startedAt",
    "expiresAt",
    "projectId",
    "status",
    "proxyBytes",
    "keepAlive",
    "region",
}


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"session_grace_s": GRACE_S, "session_min_timeout_s": 2, "session_slots": 4}


def sdk(server: RunningServer, key: str, **options: object) -> Browserbase:
    return Browserbase(api_key=key, base_url=server.url, **options)  # type: ignore[arg-type]


def read_products(connect_url: str, site_url: str, *, new_context: bool) -> tuple[list[str], str]:
    """Connect over CDP, load /js-content, return the product SKUs and the API-filled text."""
    with sync_playwright() as pw:
        browser = pw.chromium.connect_over_cdp(connect_url, timeout=15000)
        try:
            context = browser.new_context() if new_context else browser.contexts[0]
            page = context.new_page()
            page.goto(f"{site_url}/js-content")
            page.wait_for_selector("#from-api .api-item")
            skus = page.eval_on_selector_all("li.product", "els => els.map(e => e.dataset.sku)")
            api_text = page.inner_text("#from-api")
            return skus, api_text
        finally:
            browser.close()


def test_sdk_create_connect_reconnect_release(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True, user_metadata={"test": "lifecycle"})
    assert session.status == "RUNNING"
    assert session.keep_alive is True
    assert session.region == "us-west-2"
    assert session.proxy_bytes == 0
    assert session.user_metadata == {"test": "lifecycle"}
    assert session.connect_url.startswith(
        f"ws://{sserver.url.removeprefix('http://')}/v1/sessions/{session.id}/"
    )
    assert session.signing_key and session.signing_key in session.connect_url
    assert (session.expires_at - session.started_at).total_seconds() == pytest.approx(120, abs=1)
    browser = live(sserver, session.id)
    user_data = browser.user_data_dir
    assert user_data.is_dir()

    skus, api_text = read_products(session.connect_url, site_url, new_context=False)
    assert skus == [f"SKU-{n:03d}" for n in range(1, 21)]
    assert api_text.replace(" ", "") == "Alpha,Beta,Gamma"

    time.sleep(GRACE_S + 0.8)  # keepAlive: a disconnect does not end the session
    assert client.sessions.retrieve(session.id).status == "RUNNING"

    # reconnect (a second client, in a context of its own) while the session lives
    skus_again, _ = read_products(session.connect_url, site_url, new_context=True)
    assert skus_again == skus
    assert browser.connections == 2
    # the proxy counts the client out once it has seen its WebSocket close (just after it left)
    deadline = time.monotonic() + 5
    while browser.clients and time.monotonic() < deadline:
        time.sleep(0.05)
    assert browser.clients == 0

    released = client.sessions.update(session.id, status="REQUEST_RELEASE")
    assert released.status == "COMPLETED"
    assert isinstance(released.ended_at, datetime) and released.ended_at >= released.started_at
    assert released.proxy_bytes > 1000  # the page, its script and /api/items went through egress
    after = client.sessions.retrieve(session.id)
    assert after.status == "COMPLETED" and after.ended_at == released.ended_at
    assert after.connect_url is None  # nothing to connect to any more
    assert process_gone(browser.pid)
    assert not user_data.exists()
    record = _job(harness, sserver, session.id)
    assert record.result is not None and record.result["browserMinutes"] > 0
    assert record.result["proxyBytes"] == released.proxy_bytes
    assert record.charged_cents == 0 and record.billable is False  # sessions are not charged per job


def _job(harness: FleetHarness, server: RunningServer, session_id: str) -> JobRecord:
    record = harness.run(server.fleet.store.get_job(session_id))
    assert record is not None
    return record


def test_session_model_on_the_wire(sserver: RunningServer, key: str) -> None:
    response = httpx.post(
        f"{sserver.url}/v1/sessions",
        headers={"X-BB-API-Key": key},
        json={
            "timeout": 300,
            "region": "eu-central-1",
            "userMetadata": {"order": {"id": "A-7"}},
            "browserSettings": {"viewport": {"width": 900, "height": 700}, "os": "windows", "blockAds": True},
            "proxies": [{"type": "none", "domainPattern": ".*"}],
            "somethingNew": {"ignored": True},
        },
        timeout=40,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert SESSION_FIELDS | {"connectUrl", "seleniumRemoteUrl", "signingKey"} <= set(body)
    assert body["region"] == "eu-central-1" and body["status"] == "RUNNING"
    assert isinstance(body["proxyBytes"], int) and isinstance(body["keepAlive"], bool)
    started = datetime.fromisoformat(body["startedAt"])
    assert (datetime.fromisoformat(body["expiresAt"]) - started).total_seconds() == pytest.approx(300, abs=1)
    try:
        with sync_playwright() as pw:  # viewport and os reached the browser
            browser = pw.chromium.connect_over_cdp(body["connectUrl"])
            page = browser.contexts[0].pages[0]
            width, agent = page.evaluate("[window.innerWidth, navigator.userAgent]")
            browser.close()
        assert width == 900
        assert "Windows NT 10.0" in agent
    finally:
        client = sdk(sserver, key)
        client.sessions.update(body["id"], status="REQUEST_RELEASE")


def test_json_version_and_http_connect(sserver: RunningServer, key: str, site_url: str) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create()
    try:
        http_url = session.connect_url.replace("ws://", "http://", 1)
        base, query = http_url.split("?", 1)
        for suffix in ("/json/version", "/json/version/"):
            answer = httpx.get(f"{base}{suffix}?{query}", timeout=10)
            assert answer.status_code == 200, answer.text
            info = answer.json()
            assert info["Browser"].startswith("HeadlessChrome/")
            assert info["webSocketDebuggerUrl"] == session.connect_url
        refused = httpx.get(f"{base}/json/version?signingKey=wrong", timeout=10)
        assert refused.status_code == 401
        assert refused.json()["statusCode"] == 401
        # Playwright's discovery path: http URL → GET …/json/version/?signingKey=… → the rewritten ws URL
        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(http_url)
            page = browser.contexts[0].new_page()
            page.goto(f"{site_url}/click")
            page.click("#reveal")
            revealed = page.inner_text("#revealed")
            browser.close()
        assert revealed == "You clicked it"
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")


def test_wrong_or_missing_signing_key_is_refused(sserver: RunningServer, key: str) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True)
    try:
        browser = live(sserver, session.id)
        before = page_targets(browser)
        base = session.connect_url.split("?", 1)[0]
        for url in (base, f"{base}?signingKey=not-the-key", f"{base}?signingKey={session.signing_key}x"):
            with pytest.raises(InvalidStatus) as refused:
                ws_client.connect(url, open_timeout=5).close()
            assert refused.value.response.status_code == 403
        assert browser.connections == 0
        assert page_targets(browser) == before
        # the right key, as a raw CDP client: the browser answers
        with ws_client.connect(session.connect_url, open_timeout=5, max_size=None) as conn:
            conn.send('{"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}}')
            reply = conn.recv(timeout=10)
            assert '"targetId"' in str(reply)
            assert len(page_targets(browser)) == len(before) + 1
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")


def test_other_project_cannot_read_release_or_list(
    harness: FleetHarness, sserver: RunningServer, key: str
) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True)
    stranger_key = harness.new_key(sserver)
    stranger = sdk(sserver, stranger_key, max_retries=0)
    try:
        with pytest.raises(NotFoundError):
            stranger.sessions.retrieve(session.id)
        with pytest.raises(NotFoundError):
            stranger.sessions.update(session.id, status="REQUEST_RELEASE")
        response = httpx.get(
            f"{sserver.url}/v1/sessions/{session.id}", headers={"X-BB-API-Key": stranger_key}
        )
        assert response.status_code == 404
        assert response.json() == {
            "statusCode": 404,
            "error": "Not Found",
            "message": f"Session {session.id} not found",
        }
        assert [s.id for s in stranger.sessions.list()] == []
        assert client.sessions.retrieve(session.id).status == "RUNNING"
        missing = httpx.get(f"{sserver.url}/v1/sessions/{session.id}", headers={"X-BB-API-Key": "nope"})
        assert missing.status_code == 401 and missing.json()["statusCode"] == 401
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")


def test_timeout_ends_session_as_timed_out(harness: FleetHarness, sserver: RunningServer, key: str) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(api_timeout=2, keep_alive=True)  # `timeout` on the wire
    browser = live(sserver, session.id)
    body = wait_status(sserver, key, session.id, {"TIMED_OUT", "COMPLETED", "ERROR"}, timeout=15)
    assert body["status"] == "TIMED_OUT"
    ended = datetime.fromisoformat(body["endedAt"])
    assert 1.8 <= (ended - datetime.fromisoformat(body["startedAt"])).total_seconds() < 10
    assert process_gone(browser.pid)
    assert not browser.user_data_dir.exists()
    record = _job(harness, sserver, session.id)
    assert record.error_code == "SESSION_TIMEOUT" and record.billable is False
    assert record.result is not None and record.result["endReason"] == "timeout"


def test_disconnect_without_keep_alive_ends_after_grace(sserver: RunningServer, key: str) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create()
    assert session.keep_alive is False
    browser = live(sserver, session.id)
    with sync_playwright() as pw:
        cdp = pw.chromium.connect_over_cdp(session.connect_url)
        time.sleep(GRACE_S + 0.5)  # a connected client keeps it alive past the grace period
        assert client.sessions.retrieve(session.id).status == "RUNNING"
        left = time.monotonic()
        cdp.close()
    body = wait_status(sserver, key, session.id, {"COMPLETED", "ERROR", "TIMED_OUT"}, timeout=10)
    assert body["status"] == "COMPLETED"
    assert time.monotonic() - left >= GRACE_S * 0.9
    assert process_gone(browser.pid)


def test_concurrency_limit_is_429_with_headers(harness: FleetHarness, sserver: RunningServer) -> None:
    key = harness.new_key(sserver, concurrency=1)
    client = sdk(sserver, key)
    first = client.sessions.create(keep_alive=True)
    try:
        response = httpx.post(
            f"{sserver.url}/v1/sessions", headers={"X-BB-API-Key": key}, json={}, timeout=10
        )
        assert response.status_code == 429, response.text
        assert response.json() == {
            "statusCode": 429,
            "error": "Too Many Requests",
            "message": "Concurrent session limit reached (1/1). Maximum allowed: 1",
        }
        assert response.headers["x-ratelimit-limit"] == "1"
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert int(response.headers["x-ratelimit-reset"]) >= 1
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["x-should-retry"] == "true"
    finally:
        client.sessions.update(first.id, status="REQUEST_RELEASE")
    second = client.sessions.create()  # the released session freed the slot
    assert second.status == "RUNNING"
    client.sessions.update(second.id, status="REQUEST_RELEASE")


def test_list_by_status_and_metadata_query(sserver: RunningServer, key: str) -> None:
    client = sdk(sserver, key)
    red = client.sessions.create(keep_alive=True, user_metadata={"team": "red", "order": {"id": "7"}})
    blue = client.sessions.create(keep_alive=True, user_metadata={"team": "blue"})
    client.sessions.update(blue.id, status="REQUEST_RELEASE")
    try:
        assert {s.id for s in client.sessions.list()} == {red.id, blue.id}
        assert [s.id for s in client.sessions.list(q="user_metadata['team']:'red'")] == [red.id]
        assert [s.id for s in client.sessions.list(q="user_metadata['order']['id']:'7'")] == [red.id]
        assert [s.id for s in client.sessions.list(q="user_metadata['team']:'green'")] == []
        assert [s.id for s in client.sessions.list(status="RUNNING")] == [red.id]
        assert [s.id for s in client.sessions.list(status="COMPLETED")] == [blue.id]
        listed = client.sessions.list(status="RUNNING", q="user_metadata['team']:'red'")
        assert [(s.id, s.user_metadata) for s in listed] == [(red.id, {"team": "red", "order": {"id": "7"}})]
        bad = httpx.get(f"{sserver.url}/v1/sessions", params={"q": "team=red"}, headers={"X-BB-API-Key": key})
        assert bad.status_code == 400 and bad.json()["statusCode"] == 400
    finally:
        client.sessions.update(red.id, status="REQUEST_RELEASE")


def test_session_traffic_goes_through_the_egress_policy(
    sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.connect_over_cdp(session.connect_url)
            page = browser.contexts[0].new_page()
            allowed = page.goto(f"{site_url}/js-content")
            assert allowed is not None and allowed.status == 200
            blocked = page.goto("http://10.0.0.1/", timeout=15000)
            assert blocked is not None
            assert blocked.status == 403
            assert blocked.headers.get("x-browserfleet-egress") == "blocked"
            browser.close()
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")


def test_validation_uses_the_session_envelope(server: RunningServer, api_key: str) -> None:
    """The default server keeps the contract's 60 s minimum timeout."""
    bad_bodies = [
        {"timeout": 59},
        {"timeout": 21601},
        {"region": "mars-1"},
        {"browserSettings": {"viewport": {"width": "wide"}}},
        {"browserSettings": {"os": "beos"}},
        {"proxies": [{"type": "external"}]},
        {"keepAlive": "maybe"},
    ]
    for body in bad_bodies:
        response = httpx.post(f"{server.url}/v1/sessions", headers={"X-BB-API-Key": api_key}, json=body)
        assert response.status_code == 400, (body, response.text)
        envelope = response.json()
        assert set(envelope) == {"statusCode", "error", "message"}, envelope
        assert envelope["statusCode"] == 400 and envelope["error"] == "Bad Request"
    release = httpx.post(
        f"{server.url}/v1/sessions/ses_missing", headers={"X-BB-API-Key": api_key}, json={"status": "STOP"}
    )
    assert release.status_code == 400
    assert sdk(server, api_key).sessions.list() == []


def test_restart_marks_running_sessions_error(harness: FleetHarness, tmp_path: Path) -> None:
    data_dir = tmp_path / "restart"
    first = harness.server(data_dir=data_dir, session_min_timeout_s=2)
    key = harness.new_key(first)
    session = sdk(first, key).sessions.create(keep_alive=True)
    pid = live(first, session.id).pid
    harness.stop_server(first)  # the node stops with the session still running
    assert process_gone(pid)
    second = harness.server(data_dir=data_dir, session_min_timeout_s=2)
    try:
        body = get_session(second, key, session.id)
        assert body["status"] == "ERROR"
        assert body["endedAt"] is not None
        assert body.get("connectUrl") is None
        assert second.fleet.live_sessions.get(session.id) is None
    finally:
        harness.stop_server(second)
