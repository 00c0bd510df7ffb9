"""The review's findings 1 to 4, replayed as the attacker did them, against a real server and real
browsers: an ordinary API key, a live session's connectUrl / seleniumRemoteUrl, tasks and tools.
Each failed before the protocol firewall (core/firewall/) and must keep failing."""

from __future__ import annotations

import http.client
import io
import json
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from browserbase import Browserbase
from playwright.sync_api import Error as PlaywrightError
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from browserfleet.core import actions as a
from browserfleet.core.automations.plan import bind
from browserfleet.core.browsing.llm import ChatResponse, OutputInvalid, ToolCall
from browserfleet.core.browsing.tools import ToolLimits, plan
from browserfleet.core.sessions.profile_archive import normalise
from tests.support.automations import Automations
from tests.support.contexts import zip_of
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.listener import Listener
from tests.support.sessions import cdp_browser, release

pytestmark = [pytest.mark.browser]
LOCAL_FILE_URLS = [
    "file:///etc/passwd",
    " FILE:///etc/passwd",
    "fi\tle:///etc/passwd",
    "view-source:file:///etc/passwd",
    "chrome://version",
]


@pytest.fixture
def bb(server: RunningServer, api_key: str) -> Browserbase:
    return Browserbase(api_key=api_key, base_url=server.url)


def test_webdriver_dot_path_never_reaches_chromedriver_as_new_session(
    bb: Browserbase, server: RunningServer, api_key: str, tmp_path: Path
) -> None:
    """Finding 1: ``…/webdriver/./session`` with the client's own ``goog:chromeOptions``."""
    marker = tmp_path / "MARKER"
    caps = {
        "capabilities": {
            "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/lib/chromium/chromium-headless-shell",
                    "args": [
                        "--headless",
                        f"--renderer-cmd-prefix=/bin/sh -c 'touch {marker}; exec \"$@\"' x",
                    ],
                },
            }
        }
    }
    session = bb.sessions.create(keep_alive=True)
    assert session.selenium_remote_url is not None
    remote = urlsplit(session.selenium_remote_url)
    headers = {"x-bb-signing-key": str(session.signing_key), "content-type": "application/json"}
    try:
        for trick in ("./session", "session/.", "x/../session", ".%2Fsession"):
            conn = http.client.HTTPConnection(remote.netloc, timeout=30)
            conn.request("POST", f"{remote.path}/{trick}", body=json.dumps(caps), headers=headers)
            answer = conn.getresponse()
            body = json.loads(answer.read())
            conn.close()
            assert answer.status == 404, (trick, body)
            assert body["value"]["error"] == "unknown command"
        # the plain path attaches to the session's browser whatever the client asked for
        created = httpx.post(f"{session.selenium_remote_url}/session", json=caps, headers=headers, timeout=30)
        assert created.status_code == 200, created.text
        webdriver_session = created.json()["value"]["sessionId"]
        base = f"{session.selenium_remote_url}/session/{webdriver_session}"
        assert (
            httpx.post(f"{base}/url", json={"url": "data:text/html,<p>x</p>"}, headers=headers).status_code
            == 200
        )
        assert (
            httpx.post(f"{base}/url", json={"url": "file:///etc/passwd"}, headers=headers).status_code == 400
        )
        assert httpx.get(f"{session.selenium_remote_url}/shutdown", headers=headers).status_code == 404
        httpx.delete(base, headers=headers, timeout=30)
    finally:
        release(bb, server, api_key, session.id)
    assert not marker.exists()


def test_a_context_cannot_bring_its_own_proxy(
    bb: Browserbase, server: RunningServer, api_key: str, listener: Listener
) -> None:
    """Finding 2: ``new_context(proxy=…, bypass="*")`` reached a loopback listener."""
    session = bb.sessions.create(keep_alive=True)
    try:
        with cdp_browser(session.connect_url) as browser:
            with pytest.raises(PlaywrightError, match="browserfleet: proxyServer is not allowed"):
                browser.new_context(proxy={"server": f"http://127.0.0.1:{listener.port}", "bypass": "*"})
            cdp = browser.new_browser_cdp_session()
            for params in (
                {"proxyServer": f"127.0.0.1:{listener.port}"},
                {"proxyBypassList": "*"},
                {"originsWithUniversalNetworkAccess": [f"http://127.0.0.1:{listener.port}"]},
            ):
                with pytest.raises(PlaywrightError, match="not allowed"):
                    cdp.send("Target.createBrowserContext", params)
            context = browser.new_context()  # a context of its own, without a proxy, is fine
            page = context.new_page()
            page.goto("data:text/html,<title>ok</title>")
            assert page.title() == "ok"
    finally:
        release(bb, server, api_key, session.id)
    time.sleep(0.3)
    assert listener.accepted == 0


def test_a_session_cannot_open_local_files(
    bb: Browserbase, server: RunningServer, api_key: str, site_url: str
) -> None:
    """Finding 3, sessions: ``Page.navigate``, new targets and file inputs with server paths."""
    secret = server.settings.data_dir.resolve() / "secret.key"
    session = bb.sessions.create(keep_alive=True)
    try:
        with cdp_browser(session.connect_url) as browser:
            page = (
                browser.contexts[0].pages[0] if browser.contexts[0].pages else browser.contexts[0].new_page()
            )
            cdp = browser.contexts[0].new_cdp_session(page)
            for url in [*LOCAL_FILE_URLS, secret.as_uri()]:
                with pytest.raises(PlaywrightError, match="browserfleet: url"):
                    cdp.send("Page.navigate", {"url": url})
                with pytest.raises(PlaywrightError, match="browserfleet: url"):
                    browser.new_browser_cdp_session().send("Target.createTarget", {"url": url})
            with pytest.raises(PlaywrightError, match="browserfleet"):
                page.goto(secret.as_uri())
            page.goto(f"{site_url}/session-files?t=fw")
            root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
            node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#upload-input"})["nodeId"]
            with pytest.raises(PlaywrightError, match="uploaded to the session first"):
                cdp.send("DOM.setFileInputFiles", {"files": [str(secret)], "nodeId": node})
            chosen = page.evaluate("document.querySelector('#upload-input').files.length")
            assert chosen == 0
            assert page.url.startswith(site_url)  # nothing navigated anywhere else
    finally:
        release(bb, server, api_key, session.id)


def test_escaped_download_behavior_still_lands_in_the_session(
    bb: Browserbase, server: RunningServer, api_key: str, site_url: str, tmp_path: Path
) -> None:
    """Finding 4: ``"Browser.setDownload\\u0042ehavior"`` with a path outside the session."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    session = bb.sessions.create(keep_alive=True)
    try:
        with ws_connect(session.connect_url, max_size=None) as ws:
            target = _call(ws, 1, "Target.createTarget", {"url": "about:blank"})["targetId"]
            time.sleep(0.5)  # the node has set up the new page
            page = _call(ws, 2, "Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            escaped = (
                '{"id":3,"method":"Browser.setDownload\\u0042ehavior","params":{"behavior":"allow",'
                f'"downloadPath":{json.dumps(str(elsewhere))},"eventsEnabled":true}}}}'
            )
            ws.send(escaped)
            assert _reply(ws, 3) == {}
            _call(ws, 4, "Page.navigate", {"url": f"{site_url}/files/data.bin?t=fw"}, session=page)
            saved = _downloaded(bb, session.id)
        assert "data-fw.bin" in saved
        assert list(elsewhere.iterdir()) == []
    finally:
        release(bb, server, api_key, session.id)


def _call(ws: ClientConnection, ident: int, method: str, params: dict[str, Any], session: str = "") -> Any:
    message: dict[str, Any] = {"id": ident, "method": method, "params": params}
    if session:
        message["sessionId"] = session
    ws.send(json.dumps(message))
    return _reply(ws, ident)


def _reply(ws: ClientConnection, ident: int) -> Any:
    """The result of command ``ident`` (events and other answers are skipped)."""
    while True:
        answer = json.loads(ws.recv(timeout=15))
        if answer.get("id") == ident:
            assert "error" not in answer, answer
            return answer["result"]


def _downloaded(bb: Browserbase, session_id: str, timeout: float = 15) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        data = bb.sessions.downloads.list(session_id).read()
        names = zipfile.ZipFile(io.BytesIO(data)).namelist() if data else []
        if names or time.monotonic() > deadline:
            return names
        time.sleep(0.2)


@pytest.mark.parametrize("url", LOCAL_FILE_URLS)
def test_tasks_refuse_local_urls_at_creation(server: RunningServer, api_key: str, url: str) -> None:
    """Finding 3, automations: ``go`` and ``download_file`` steps; per-run overrides too."""
    client = Automations(server, api_key)
    try:
        for step in (
            {"uid": "s", "action": "go", "config": {"url": url}},
            {"uid": "s", "action": "download_file", "config": {"url": url}},
        ):
            answer = client.http.post("/v1/tasks", json={"name": "t", "steps": [step]})
            assert answer.status_code == 400, answer.text
            assert "http" in answer.text
        task = client.create_task([{"uid": "s", "action": "go", "config": {"url": "http://127.0.0.1:9/"}}])
        override = [{"uid": "s", "config": {"url": url}}]
        answer = client.http.post(f"/v1/tasks/{task['uid']}/runs", json={"steps": override})
        assert answer.status_code == 400, answer.text
        hook = client.http.post(f"/v1/tasks/{task['uid']}/runs", json={"webhook_url": "file:///tmp/x"})
        assert hook.status_code == 400, hook.text
    finally:
        client.close()


@pytest.mark.parametrize("url", LOCAL_FILE_URLS)
def test_iterated_items_cannot_become_local_urls(url: str) -> None:
    """An iterated list comes from the page at run time: what binds into a step is checked again."""
    template = a.Goto(url="{{item}}")
    assert bind([template], "http://127.0.0.1/next") == [a.Goto(url="http://127.0.0.1/next")]
    with pytest.raises(ValueError, match="only http:// and https://"):
        bind([template], url)
    with pytest.raises(ValueError, match="only http:// and https://"):
        bind([template], "{{item}}")  # an item cannot smuggle a template past the check
    with pytest.raises(ValueError, match="only http:// and https://"):
        a.Goto(url=f"{url.strip()[:4]}{{{{item}}}}")


@pytest.mark.parametrize("url", LOCAL_FILE_URLS)
def test_the_agent_cannot_navigate_to_local_urls(url: str) -> None:
    """Finding 3, browsing: the navigate and new_tab tools."""
    for tool, args in (("navigate", {"url": url}), ("new_tab", {"url": url})):
        answer = ChatResponse(content=None, tool_calls=(ToolCall("c1", tool, json.dumps(args)),))
        with pytest.raises(OutputInvalid, match="only http:// and https://"):
            plan(answer, [tool], ToolLimits())


@pytest.mark.parametrize("url", LOCAL_FILE_URLS)
def test_renders_and_fetch_refuse_local_urls(server: RunningServer, api_key: str, url: str) -> None:
    auth = {"Authorization": f"Bearer {api_key}", "X-BB-API-Key": api_key}
    render = httpx.post(f"{server.url}/v1/renders", json={"url": url}, headers=auth)
    assert render.status_code == 400, render.text
    fetched = httpx.post(f"{server.url}/v1/fetch", json={"url": url}, headers=auth)
    assert fetched.status_code == 400, fetched.text
    fetch_urls = httpx.post(
        f"{server.url}/v1/renders", json={"url": "http://127.0.0.1:9/", "fetchUrls": [url]}, headers=auth
    )
    assert fetch_urls.status_code == 400, fetch_urls.text


def test_the_test_only_switch_turns_the_firewall_off(harness: FleetHarness, tmp_path: Path) -> None:
    """``protocol_firewall=False`` really lets a refused command through (the containment tests rely
    on it), so the firewall tests above are not passing for some other reason."""
    running = harness.server(protocol_firewall=False)
    key = harness.new_key(running)
    client = Browserbase(api_key=key, base_url=running.url)
    session = client.sessions.create(keep_alive=True)
    try:
        with ws_connect(session.connect_url, max_size=None) as ws:
            ws.send(json.dumps({"id": 1, "method": "Browser.getBrowserCommandLine"}))
            answer = json.loads(ws.recv(timeout=10))
        assert "browserfleet" not in json.dumps(answer)
    finally:
        release(client, running, key, session.id)
        harness.stop_server(running)


def test_an_uploaded_profile_cannot_register_native_hosts() -> None:
    """A profile is the tenant's: native messaging hosts (processes an extension may start) in it
    are dropped on upload, whatever the spelling of their folder's place."""
    canonical, files = normalise(
        zip_of(
            {
                "Default/Cookies": b"c",
                "NativeMessagingHosts/com.evil.json": b'{"path": "/bin/sh"}',
                "Default/NativeMessagingHosts/com.evil.json": b'{"path": "/bin/sh"}',
            }
        ),
        10_000,
    )
    with tarfile.open(fileobj=io.BytesIO(canonical), mode="r:gz") as tar:
        assert not [name for name in tar.getnames() if "NativeMessagingHosts" in name]
    assert files == 1
