"""HTTP hygiene: request bodies are bounded before anyone is authenticated, URLs handed to clients
never reflect a foreign ``Host`` header, another project's ids are a 404 in every family, signed
file URLs expire and die with their run, and session logs keep only an allow-list of headers.

Real servers and real clients: raw sockets (``http.client``) for bodies a polite client would not
send, httpx with a forged ``Host`` header, the official ``browserbase`` SDK, Playwright over CDP,
the Browserbear-style and browsing HTTP APIs, a stand-in model provider for browsing tasks.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from browserbase import Browserbase

from tests.support.automations import Automations
from tests.support.contexts import zip_of
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLM_KEY, LLMStandIn, call
from tests.support.sessions import cdp_browser, release

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("http-hygiene")]
MIB = 1024 * 1024
EVIL = "evil.example:666"


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LLMStandIn]:
    with LLMStandIn() as server:
        yield server


@pytest.fixture(scope="module")
def hserver(harness: FleetHarness, llm_server: LLMStandIn) -> Iterator[RunningServer]:
    running = harness.server(
        session_grace_s=1.0,
        session_slots=3,
        llm_base_url=llm_server.url,
        llm_api_key=LLM_KEY,
        llm_model="scripted",
        automation_file_url_ttl_s=2,
    )
    yield running
    harness.stop_server(running)


@pytest.fixture
def key(harness: FleetHarness, hserver: RunningServer) -> str:
    return harness.new_key(hserver)


def port_of(server: RunningServer) -> int:
    return int(server.url.rsplit(":", 1)[1])


def held_post(
    server: RunningServer, path: str, headers: dict[str, str], parts: list[bytes]
) -> tuple[int, dict[str, Any]]:
    """POST ``path`` sending only ``parts`` of the body its headers announce, then wait (5 s at
    most) for the answer: the server must answer without the rest of the body."""
    connection = http.client.HTTPConnection("127.0.0.1", port_of(server), timeout=5)
    try:
        connection.putrequest("POST", path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        for part in parts:
            try:
                connection.send(part)
            except OSError:  # the server answered and closed: the rest is never read
                break
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# --- a body size limit before authentication -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "envelope"),
    [
        ("/v1/renders", {"error": "Payload Too Large"}),
        ("/v1/sessions", {"statusCode": 413, "error": "Payload Too Large"}),
        ("/v1/tasks", {}),
        ("/api/v1/browsing/async", {}),
    ],
)
def test_an_announced_oversized_body_is_refused_unread_and_unauthenticated(
    hserver: RunningServer, path: str, envelope: dict[str, Any]
) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(100 * MIB)}
    status, body = held_post(hserver, path, headers, [b'{"url": "http://example.com/'])
    assert status == 413, body
    assert {k: body[k] for k in envelope} == envelope, body  # the family's own envelope
    message = body.get("message") or body.get("error")
    assert isinstance(message, str) and "1048576" in message, body


def test_a_streamed_body_is_cut_off_at_the_limit_before_authentication(hserver: RunningServer) -> None:
    headers = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    parts = [chunk(b'{"padding": "')] + [chunk(b"x" * 65536) for _ in range(17)]  # > 1 MiB, never ended
    status, body = held_post(hserver, "/v1/sessions", headers, parts)
    assert status == 413 and body["statusCode"] == 413 and body["error"] == "Payload Too Large", body


def test_upload_routes_keep_their_own_larger_limits(hserver: RunningServer, key: str) -> None:
    client = Browserbase(api_key=key, base_url=hserver.url, max_retries=0)
    context = client.contexts.create()
    garbage = secrets.token_bytes(2 * MIB)  # over the default limit, under context_max_bytes
    uploaded = httpx.put(context.upload_url, content=garbage, timeout=30)
    assert uploaded.status_code == 400, uploaded.text  # read, then refused for what it is
    files = {"file": ("big.bin", garbage, "application/octet-stream")}
    headers = {"X-BB-API-Key": key}
    upload = httpx.post(
        f"{hserver.url}/v1/sessions/ses_unknown/uploads", files=files, headers=headers, timeout=30
    )
    assert upload.status_code == 404, upload.text
    # an authenticated JSON body over the default limit is still refused
    big = json.dumps({"url": "not a url", "padding": "x" * (2 * MIB)})
    refused = httpx.post(
        f"{hserver.url}/v1/renders",
        content=big,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert refused.status_code == 413 and refused.json()["error"] == "Payload Too Large", refused.text


# --- URLs handed to clients never reflect a foreign Host header ---------------------------------


def test_connect_and_live_urls_never_carry_a_foreign_host(hserver: RunningServer, key: str) -> None:
    netloc = urlsplit(hserver.url).netloc
    headers = {"X-BB-API-Key": key, "Host": EVIL}
    created = httpx.post(f"{hserver.url}/v1/sessions", json={"keepAlive": True}, headers=headers, timeout=30)
    assert created.status_code == 201, created.text
    session = created.json()
    client = Browserbase(api_key=key, base_url=hserver.url)
    try:
        for name in ("connectUrl", "seleniumRemoteUrl"):
            assert urlsplit(session[name]).netloc == netloc, session[name]
        got = httpx.get(f"{hserver.url}/v1/sessions/{session['id']}", headers=headers, timeout=10).json()
        assert urlsplit(got["connectUrl"]).netloc == netloc, got
        debug = httpx.get(f"{hserver.url}/v1/sessions/{session['id']}/debug", headers=headers, timeout=10)
        assert debug.status_code == 200, debug.text
        assert "evil.example" not in debug.text and urlsplit(debug.json()["wsUrl"]).netloc == netloc
        version = httpx.get(
            f"{hserver.url}/v1/sessions/{session['id']}/connect/json/version",
            params={"signingKey": session["signingKey"]},
            headers={"Host": EVIL},
            timeout=10,
        )
        assert version.status_code == 200, version.text
        assert urlsplit(version.json()["webSocketDebuggerUrl"]).netloc == netloc, version.json()
        context = httpx.post(f"{hserver.url}/v1/contexts", json={}, headers=headers, timeout=30).json()
        assert urlsplit(context["uploadUrl"]).netloc == netloc, context
        with cdp_browser(session["connectUrl"]) as browser:  # and the URL it got does work
            assert browser.contexts
    finally:
        release(client, hserver, key, session["id"])


def test_an_allowed_host_is_kept(harness: FleetHarness) -> None:
    server = harness.server(allowed_hosts=["localhost"])
    try:
        key = harness.new_key(server)
        port = port_of(server)
        for host, expected in ((f"localhost:{port}", f"localhost:{port}"), (EVIL, f"127.0.0.1:{port}")):
            headers = {"X-BB-API-Key": key, "Host": host}
            context = httpx.post(f"{server.url}/v1/contexts", json={}, headers=headers, timeout=30)
            assert context.status_code == 201, context.text
            assert urlsplit(context.json()["uploadUrl"]).netloc == expected, context.json()
    finally:
        harness.stop_server(server)


# --- another project's ids are a 404 in every family ---------------------------------------------


def test_another_projects_ids_are_404_in_every_family(
    harness: FleetHarness, hserver: RunningServer, key: str, llm_server: LLMStandIn, site_url: str
) -> None:
    other = harness.new_key(hserver)
    mine = Browserbase(api_key=key, base_url=hserver.url)
    tasks = Automations(hserver, key)
    llm_server.play([call("done", success=True, result="mine")])
    bearer = {"Authorization": f"Bearer {key}"}
    render = httpx.post(f"{hserver.url}/v1/renders", json={"url": f"{site_url}/"}, headers=bearer, timeout=30)
    assert render.status_code == 201, render.text
    session = mine.sessions.create(keep_alive=True)
    context = mine.contexts.create()
    manifest = {"manifest_version": 3, "name": "x", "version": "1.0"}
    extension = mine.extensions.create(
        file=("x.zip", zip_of({"manifest.json": json.dumps(manifest)}), "application/zip")
    )
    task = tasks.create_task([{"uid": "open", "action": "go", "config": {"url": f"{site_url}/structured"}}])
    run = tasks.run_task(task["uid"])
    feed = tasks.http.post(f"/v1/tasks/{task['uid']}/feeds", json={"name": "f"}).json()
    browsing = httpx.post(
        f"{hserver.url}/api/v1/browsing/async", json={"task": "Say mine"}, headers=bearer, timeout=30
    )
    assert browsing.status_code == 200, browsing.text
    task_id = browsing.json()["task_id"]
    project_id = mine.projects.list()[0].id
    try:
        ses, t = session.id, task["uid"]
        calls: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", f"/v1/renders/{render.json()['renderId']}", None),
            ("GET", f"/v1/sessions/{ses}", None),
            ("POST", f"/v1/sessions/{ses}", {"status": "REQUEST_RELEASE"}),
            *(
                ("GET", f"/v1/sessions/{ses}/{sub}", None)
                for sub in ("debug", "logs", "recording", "downloads")
            ),
            ("GET", f"/v1/sessions/{ses}/recording/downloads", None),
            ("DELETE", f"/v1/sessions/{ses}/downloads", None),
            ("GET", f"/v1/contexts/{context.id}", None),
            ("PUT", f"/v1/contexts/{context.id}", None),
            ("DELETE", f"/v1/contexts/{context.id}", None),
            ("GET", f"/v1/extensions/{extension.id}", None),
            ("DELETE", f"/v1/extensions/{extension.id}", None),
            ("GET", f"/v1/projects/{project_id}", None),
            ("GET", f"/v1/projects/{project_id}/usage", None),
            ("GET", f"/v1/tasks/{t}", None),
            ("PATCH", f"/v1/tasks/{t}", {"name": "stolen"}),
            ("DELETE", f"/v1/tasks/{t}", None),
            ("POST", f"/v1/tasks/{t}/runs", {}),
            ("GET", f"/v1/tasks/{t}/runs", None),
            ("GET", f"/v1/tasks/{t}/runs/{run['uid']}", None),
            ("GET", f"/v1/tasks/{t}/feeds", None),
            ("GET", f"/v1/tasks/{t}/feeds/{feed['uid']}", None),
            ("DELETE", f"/v1/tasks/{t}/feeds/{feed['uid']}", None),
            ("GET", f"/api/v1/browsing/status?task_id={task_id}", None),
            ("GET", f"/api/v1/browsing/screenshots/{task_id}/final.png", None),
            ("GET", f"/v1/agents/runs/{task_id}", None),
        ]
        wrong = []
        for method, path, body in calls:
            response = httpx.request(
                method,
                f"{hserver.url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {other}"},
                timeout=30,
            )
            if response.status_code != 404 or "another project" in response.text:
                wrong.append((method, path, response.status_code, response.text[:200]))
        assert wrong == []
        # the same reads answer the owner (the 404s above are not unknown routes)
        for method, path, _ in calls:
            if method == "GET" and "/screenshots/" not in path:
                response = httpx.get(f"{hserver.url}{path}", headers=bearer, timeout=30)
                assert response.status_code != 404, (path, response.text[:200])
        # and nothing of the owner's was touched
        assert mine.sessions.retrieve(ses).status == "RUNNING"
        assert mine.contexts.retrieve(context.id).id == context.id
        assert mine.extensions.retrieve(extension.id).id == extension.id
        assert tasks.http.get(f"/v1/tasks/{t}").json()["name"] != "stolen"
        status = httpx.get(
            f"{hserver.url}/api/v1/browsing/status", params={"task_id": task_id}, headers=bearer
        )
        assert status.status_code == 200, status.text
    finally:
        release(mine, hserver, key, session.id)
        tasks.close()


# --- signed file URLs expire and die with their run ----------------------------------------------


def expires_of(url: str) -> int:
    query = parse_qs(urlsplit(url).query)
    assert "expires" in query, url
    return int(query["expires"][0])


def test_run_file_urls_expire_and_die_with_their_task(
    hserver: RunningServer, key: str, site_url: str
) -> None:
    client = Automations(hserver, key)
    try:
        task = client.create_task(
            [
                {"uid": "open", "action": "go", "config": {"url": f"{site_url}/structured"}},
                {"uid": "shot", "action": "take_screenshot", "config": {}},
            ]
        )
        run = client.run_task(task["uid"])
        assert run["status"] == "finished", run["error"]
        urls = [run["outputs"]["shot_take_screenshot"], run["video_url"]]
        for url in urls:
            assert client.fetch(url).status_code == 200
            assert expires_of(url) <= time.time() + 2 * 2 + 1  # automation_file_url_ttl_s=2: at most twice
            unsigned = url.replace(f"expires={expires_of(url)}", f"expires={expires_of(url) + 3600}")
            assert client.fetch(unsigned).status_code == 404  # the expiry is signed too
        time.sleep(max(0.0, max(expires_of(u) for u in urls) - time.time()) + 1.1)
        for url in urls:
            expired = client.fetch(url)
            assert expired.status_code == 404 and expired.json() == {"message": "File not found"}, url

        fresh = client.wait_run(task["uid"], run["uid"])  # handed out again: works again
        shot = fresh["outputs"]["shot_take_screenshot"]
        assert client.fetch(shot).status_code == 200
        deleted = client.http.delete(f"/v1/tasks/{task['uid']}")
        assert deleted.status_code == 204
        for url in (shot, fresh["video_url"]):
            gone = client.fetch(url)
            assert gone.status_code == 404 and gone.json() == {"message": "File not found"}, url
    finally:
        client.close()


# --- session logs keep only an allow-list of headers ---------------------------------------------


def test_session_logs_redact_every_header_not_on_the_allow_list(
    hserver: RunningServer, key: str, site_url: str
) -> None:
    token, trace = f"tok-{uuid.uuid4().hex}", f"trace-{uuid.uuid4().hex}"
    client = Browserbase(api_key=key, base_url=hserver.url)
    session = client.sessions.create()
    with cdp_browser(session.connect_url) as browser:
        page = browser.contexts[0].new_page()
        page.set_extra_http_headers({"X-Api-Token": token, "Content-Type": "text/plain", "X-Trace": trace})

        def add_secret(route: Any) -> None:
            route.continue_(
                headers={**route.request.headers, "x-session-secret": token, "accept": "text/html"}
            )

        page.route("**/api/echo*", add_secret)
        page.goto(f"{site_url}/api/echo?t=1")
    release(client, hserver, key, session.id)
    logs = [r.model_dump(by_alias=True) for r in client.sessions.logs.list(session.id)]
    assert token not in json.dumps(logs) and trace not in json.dumps(logs)
    [extra] = [r for r in logs if r["method"] == "Network.setExtraHTTPHeaders"]
    assert extra["request"]["params"]["headers"] == {
        "X-Api-Token": "[REDACTED]",
        "Content-Type": "text/plain",
        "X-Trace": "[REDACTED]",
    }
    continued = [r for r in logs if r["method"] == "Fetch.continueRequest"]
    assert continued, [r["method"] for r in logs]
    pairs = {h["name"].lower(): h["value"] for h in continued[0]["request"]["params"]["headers"]}
    assert pairs["x-session-secret"] == "[REDACTED]" and pairs["accept"] == "text/html"
    assert pairs["x-api-token"] == "[REDACTED]" and pairs["content-type"] == "text/plain"
