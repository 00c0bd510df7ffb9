"""Session logs (``GET /v1/sessions/{id}/logs``) and recordings (``GET …/recording``).

Real servers, a real dedicated Chromium per session, Playwright over ``connect_url`` as the client
and the official ``browserbase`` SDK (``sessions.logs.list``, ``sessions.recording.retrieve``) to
read them back, while the session runs (from the node's memory) and after it ended (from blobs).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from browserbase import Browserbase, NotFoundError

from tests.support.fleet import FleetHarness, RunningServer
from tests.support.sessions import cdp_browser, release, sdk

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("session_history")]
SECRET_HEADER = "Bearer s3cret-header-value"
SECRET_COOKIE = "c00kie-secret-value"
LOG_LIMIT = 4


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"session_grace_s": 1.0, "session_slots": 4}


def recording(client: Browserbase, session_id: str) -> list[dict[str, Any]]:
    """``sessions.recording.retrieve`` (the SDK marks it deprecated; the endpoint is in the contract)."""
    with pytest.warns(DeprecationWarning):
        return dumped(client.sessions.recording.retrieve(session_id))


def dumped(records: list[Any]) -> list[dict[str, Any]]:
    return [record.model_dump(by_alias=True) for record in records]


def drive_two_pages(connect_url: str, site_url: str) -> str:
    """Page 1: headers + cookie set, /search loaded, an evaluate; page 2: /click. The first title."""
    with cdp_browser(connect_url) as browser:
        context = browser.contexts[0]
        context.add_cookies([{"name": "tok", "value": SECRET_COOKIE, "url": site_url}])
        page = context.new_page()
        page.set_extra_http_headers({"Authorization": SECRET_HEADER})
        page.goto(f"{site_url}/search")
        title: str = page.evaluate("() => document.title + ':' + location.pathname")
        other = context.new_page()
        other.goto(f"{site_url}/click")
        return title


def check_logs(logs: list[dict[str, Any]], session_id: str, site_url: str) -> None:
    assert all(record["sessionId"] == session_id for record in logs)
    navigations = [r for r in logs if r["method"] == "Page.navigate"]
    by_url = {r["request"]["params"]["url"]: r for r in navigations}
    assert {f"{site_url}/search", f"{site_url}/click"} <= set(by_url), [r["request"] for r in navigations]
    search, click = by_url[f"{site_url}/search"], by_url[f"{site_url}/click"]
    for record in (search, click):
        assert isinstance(record["pageId"], int) and record["pageId"] >= 0
        assert record["response"]["result"]["frameId"] == record["frameId"]
        assert record["request"]["timestamp"] <= record["response"]["timestamp"]
        assert abs(record["timestamp"] - record["request"]["timestamp"]) < 1000
        assert json.loads(record["request"]["rawBody"])["params"]["url"] == record["request"]["params"]["url"]
    assert search["pageId"] != click["pageId"]  # one number per page target
    # the evaluate ran on the /search page: same pageId, its answer recorded
    evaluations = [
        r
        for r in logs
        if r["method"] in {"Runtime.evaluate", "Runtime.callFunctionOn"}
        and "Search:/search" in json.dumps(r.get("response", {}).get("result"))
    ]
    assert evaluations and all(r["pageId"] == search["pageId"] for r in evaluations)
    # secrets: the header and the cookie are recorded, their values are not
    headers = [r for r in logs if r["method"] == "Network.setExtraHTTPHeaders"]
    assert headers
    assert all(r["request"]["params"]["headers"]["Authorization"] == "[REDACTED]" for r in headers)
    cookies = [r for r in logs if r["method"] in {"Storage.setCookies", "Network.setCookies"}]
    assert cookies and cookies[0]["request"]["params"]["cookies"][0]["name"] == "tok"
    assert cookies[0]["request"]["params"]["cookies"][0]["value"] == "[REDACTED]"
    text = json.dumps(logs)
    assert "s3cret-header-value" not in text and SECRET_COOKIE not in text


def test_logs_record_cdp_traffic_live_and_after_end(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True)
    assert drive_two_pages(session.connect_url, site_url) == "Search:/search"

    live_logs = dumped(client.sessions.logs.list(session.id))  # from the node, session running
    check_logs(live_logs, session.id, site_url)

    release(client, sserver, key, session.id)
    ended_logs = dumped(client.sessions.logs.list(session.id))  # from the blob
    check_logs(ended_logs, session.id, site_url)
    assert len(ended_logs) >= len(live_logs)

    with pytest.raises(NotFoundError):
        sdk(sserver, harness.new_key(sserver)).sessions.logs.list(session.id)


def test_log_session_false_records_nothing(sserver: RunningServer, key: str, site_url: str) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True, browser_settings={"logSession": False})
    drive_two_pages(session.connect_url, site_url)
    assert client.sessions.logs.list(session.id) == []
    release(client, sserver, key, session.id)
    assert client.sessions.logs.list(session.id) == []


def test_logs_are_bounded(harness: FleetHarness, site_url: str) -> None:
    server = harness.server(session_log_max_records=LOG_LIMIT, session_slots=2)
    try:
        key = harness.new_key(server)
        client = sdk(server, key)
        session = client.sessions.create(keep_alive=True)
        drive_two_pages(session.connect_url, site_url)
        release(client, server, key, session.id)
        logs = dumped(client.sessions.logs.list(session.id))
        # the first commands of the client's connection (Playwright starts with Browser.* calls)
        assert len(logs) == LOG_LIMIT
        assert logs[0]["method"].startswith(("Browser.", "Target."))
        assert all("response" in r for r in logs)
    finally:
        harness.stop_server(server)


def test_recording_has_snapshot_and_typed_input(
    harness: FleetHarness, sserver: RunningServer, key: str, site_url: str
) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True)
    with cdp_browser(session.connect_url) as browser:
        page = browser.contexts[0].new_page()
        page.goto(f"{site_url}/search")
        page.click("#q")
        page.type("#q", "hello rrweb", delay=20)
        page.click("#go")
        page.wait_for_selector("li.result")
    release(client, sserver, key, session.id)  # the node flushes every page's buffer first

    events = recording(client, session.id)
    assert all(e["sessionId"] == session.id and isinstance(e["timestamp"], int) for e in events)
    search = [e for e in events if e["type"] == 4 and e["data"]["href"] == f"{site_url}/search"]
    assert len(search) == 1  # Meta of the /search document
    start = events.index(search[0])
    page_events = [e for e in events[start:] if e["pageId"] == events[start]["pageId"]]
    snapshots = [e for e in page_events if e["type"] == 2]
    assert snapshots and '"Search"' in json.dumps(snapshots[0]["data"])  # the page's h1 text
    incremental = [e for e in page_events if e["type"] == 3]
    inputs = [e["data"]["text"] for e in incremental if e["data"].get("source") == 5]
    assert inputs and inputs[-1] == "hello rrweb"  # IncrementalSource.Input
    clicks = [e for e in incremental if e["data"].get("source") == 2 and e["data"].get("type") == 2]
    assert len(clicks) >= 2  # MouseInteraction.Click on #q and #go
    mutations = json.dumps([e for e in incremental if e["data"].get("source") == 0])
    assert "Result 1 for hello rrweb" in mutations  # the DOM the page built, for a replay
    times = [e["timestamp"] for e in page_events]
    assert times == sorted(times)

    response = httpx.get(
        f"{sserver.url}/v1/sessions/{session.id}/recording",
        headers={"X-BB-API-Key": harness.new_key(sserver)},
        timeout=10,
    )
    assert response.status_code == 404


def test_record_session_false_records_nothing(sserver: RunningServer, key: str, site_url: str) -> None:
    client = sdk(sserver, key)
    session = client.sessions.create(keep_alive=True, browser_settings={"recordSession": False})
    with cdp_browser(session.connect_url) as browser:
        page = browser.contexts[0].new_page()
        page.goto(f"{site_url}/search")
        page.fill("#q", "not recorded")
        assert page.evaluate("() => typeof window.__browserfleetRecordFlush") == "undefined"
    release(client, sserver, key, session.id)
    assert recording(client, session.id) == []
    assert client.sessions.logs.list(session.id)  # logs are independent of recordings
