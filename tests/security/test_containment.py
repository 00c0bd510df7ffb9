"""OS containment of browsers (docs/security.md, "Layer 2: OS containment"), with the protocol
firewall switched off (``protocol_firewall=False``, test-only) so nothing but the OS stops them.

A tenant drives a browser as far as the platform lets it, and further:

* a live session over raw CDP on its ``connectUrl`` (every command passes: the firewall is off),
  and over WebDriver on its ``seleniumRemoteUrl`` (chromedriver runs in the session's sandbox);
* an automation task: first what its steps may ask, then - as a compromised browser would - every
  CDP command on the very browser that runs the task (the pooled browser, taken over from the
  node's own Playwright connection).

Each tries to read a file of the server's data folder (a canary and ``secret.key``) and to connect
to a TCP listener on the host's loopback, directly and as a proxy. Both must fail: the browser sees
no file of the server and its network namespace holds nothing but its own egress channel. The
servers deny private egress (no ``egress_allow``), so the channel cannot lead to the listener
either. With ``BROWSERFLEET_BROWSER_CONTAINMENT=off`` in the environment (the shared pool and every
server uncontained) the two attack tests fail: the canary is read and the listener is reached.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets.sync.client as ws_client
from playwright.async_api import Browser
from playwright.async_api import Error as PlaywrightError
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.remote.client_config import ClientConfig
from selenium.webdriver.remote.remote_connection import RemoteConnection

from browserfleet.node.pool import PooledBrowser
from tests.support.automations import Automations
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.listener import Listener
from tests.support.procs import descendants, processes
from tests.support.sessions import live, process_gone, sdk

pytestmark = pytest.mark.browser

LOAD_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def contained(harness: FleetHarness) -> RunningServer:
    """Containment as configured (default: required), the protocol firewall off, no private
    egress allowed."""
    return harness.server(protocol_firewall=False, egress_allow=[])


@pytest.fixture(scope="module")
def canary(contained: RunningServer) -> tuple[Path, str]:
    """A file of the server's data folder and its (secret) content."""
    token = f"canary-{secrets.token_hex(16)}"
    path = contained.settings.data_dir.resolve() / "containment-canary.txt"
    path.write_text(token)
    return path, token


@pytest.fixture
def key(harness: FleetHarness, contained: RunningServer) -> str:
    return harness.new_key(contained)


# --- raw CDP ------------------------------------------------------------------------------------


class Cdp:
    """A raw CDP client (flattened sessions) on one WebSocket."""

    def __init__(self, ws: ws_client.ClientConnection) -> None:
        self.ws = ws
        self._ids = 0

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> Any:
        self._ids += 1
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv(timeout=30))
            if reply.get("id") == self._ids:
                assert "error" not in reply, (method, reply)
                return reply["result"]

    def open(self, url: str, context: str | None = None) -> tuple[str | None, str]:
        """A new page navigated to ``url``: (navigation error, the page's text once loaded)."""
        params: dict[str, Any] = {"url": "about:blank"}
        if context is not None:
            params["browserContextId"] = context
        target = self.send("Target.createTarget", params)["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        error = self.send("Page.navigate", {"url": url}, session).get("errorText")
        if error:  # Chromium's error page (scripts do not run there)
            return error, ""
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            state = self._evaluate(session, "document.readyState")
            if state == "complete":
                break
            time.sleep(0.05)
        return error, str(self._evaluate(session, "document.documentElement.innerText"))

    def _evaluate(self, session: str, expression: str) -> Any:
        return self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)[
            "result"
        ].get("value")


def upload(server: RunningServer, key: str, session_id: str, name: str, content: bytes) -> str:
    response = httpx.post(
        f"{server.url}/v1/sessions/{session_id}/uploads",
        headers={"X-BB-API-Key": key},
        files={"file": (name, content)},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    path: str = response.json()["path"]
    return path


# --- the tests ----------------------------------------------------------------------------------


def test_raw_cdp_on_a_session_reads_no_server_file_and_reaches_no_loopback_listener(
    contained: RunningServer, key: str, canary: tuple[Path, str], listener: Listener
) -> None:
    canary_path, token = canary
    client = sdk(contained, key)
    session = client.sessions.create()
    try:
        with ws_client.connect(session.connect_url, max_size=None, open_timeout=30) as ws:
            cdp = Cdp(ws)
            # the browser's own files are there (an upload is read through file://) ...
            own = upload(contained, key, session.id, "mine.txt", b"the session's own upload")
            assert cdp.open(Path(own).as_uri()) == (None, "the session's own upload")
            # ... the server's are not
            for path in (canary_path, contained.settings.data_dir.resolve() / "secret.key"):
                assert path.is_file()
                error, text = cdp.open(path.as_uri())
                assert error == "net::ERR_FILE_NOT_FOUND", (path, error, text[:200])
                assert token not in text
            # a context going direct, and one whose proxy is the listener: nothing reaches it
            for proxy in ("direct://", f"http://127.0.0.1:{listener.port}"):
                context = cdp.send("Target.createBrowserContext", {"proxyServer": proxy})["browserContextId"]
                error, _ = cdp.open(listener.url, context)
                assert error is not None, proxy
        time.sleep(0.5)
        assert listener.accepted == 0
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")


def test_a_tasks_browser_reads_no_server_file_and_reaches_no_loopback_listener(
    harness: FleetHarness,
    contained: RunningServer,
    key: str,
    canary: tuple[Path, str],
    listener: Listener,
) -> None:
    canary_path, token = canary
    tasks = Automations(contained, key)
    try:
        # what a task's steps may ask: the listener (refused by the egress policy) and the file
        task = tasks.create_task([{"uid": "open", "action": "go", "config": {"url": listener.url}}])
        assert tasks.run_task(task["uid"])["status"] == "failed"
        steps = [{"uid": "read", "action": "go", "config": {"url": canary_path.as_uri()}}]
        refused = tasks.http.post("/v1/tasks", json={"name": "read a file", "steps": steps})
        if refused.status_code == 201:  # accepted: the run must still not read it
            run = tasks.run_task(refused.json()["uid"])
            assert token not in json.dumps(run)
        else:
            assert refused.status_code in (400, 422), refused.text
        # a compromised browser: every CDP command on the pooled browser running a task
        waiting = tasks.create_task([{"uid": "hold", "action": "wait", "config": {"duration": 6}}])
        started = tasks.start_run(waiting["uid"])
        pooled = _browser_with_a_context(harness)
        read, errors = harness.run(_take_over(pooled.browser, canary_path, listener))
        assert token not in read
        assert all(error is not None for error in errors), errors
        assert tasks.wait_run(waiting["uid"], started["uid"])["status"] == "finished"
    finally:
        tasks.close()
    time.sleep(0.5)
    assert listener.accepted == 0


def test_webdriver_on_a_session_reads_no_server_file_and_chromedriver_is_in_the_sandbox(
    contained: RunningServer, key: str, canary: tuple[Path, str]
) -> None:
    canary_path, token = canary
    client = sdk(contained, key)
    session = client.sessions.create()
    try:
        config = ClientConfig(
            session.selenium_remote_url, timeout=30, extra_headers={"x-bb-signing-key": session.signing_key}
        )
        driver = webdriver.Remote(command_executor=RemoteConnection(client_config=config), options=Options())
        try:
            try:
                driver.get(canary_path.as_uri())
                source = driver.page_source
            except WebDriverException as exc:  # chromedriver's word for Chromium's error page
                source = str(exc)
            assert token not in source
            browser = live(contained, session.id)
            assert browser.webdriver is not None and browser.webdriver.pid is not None
            chromedriver = browser.webdriver.pid
            assert os.readlink(f"/proc/{chromedriver}/exe").endswith("chromedriver")
            assert _status(chromedriver)["Uid"].split()[0] == _status(browser.pid)["Uid"].split()[0] != "0"
            assert os.readlink(f"/proc/{chromedriver}/ns/net") == os.readlink(f"/proc/{browser.pid}/ns/net")
            assert os.readlink(f"/proc/{chromedriver}/ns/net") != os.readlink("/proc/self/ns/net")
        finally:
            driver.quit()
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")


def _browser_with_a_context(harness: FleetHarness, timeout: float = 15) -> PooledBrowser:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pooled in harness.pool.browsers:
            if pooled.contexts > 0 and pooled.alive:
                return pooled
        time.sleep(0.05)
    raise AssertionError("no pooled browser is running the task")


async def _take_over(browser: Browser, canary: Path, listener: Listener) -> tuple[str, list[str | None]]:
    """On the harness loop: read ``canary`` through file:// and open the listener from a context
    going direct and one whose proxy is the listener. (what was read, each connection's error)"""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        try:
            await page.goto(canary.as_uri(), timeout=10_000)
            read = await page.content()
        except PlaywrightError as exc:
            read = str(exc)
    finally:
        await context.close()
    errors: list[str | None] = []
    for proxy in ("direct://", f"http://127.0.0.1:{listener.port}"):
        context = await browser.new_context(proxy={"server": proxy})
        try:
            await (await context.new_page()).goto(listener.url, timeout=10_000)
            errors.append(None)
        except PlaywrightError as exc:
            errors.append(str(exc).splitlines()[0])
        finally:
            await context.close()
    return read, errors


def test_session_browser_runs_as_the_browser_user_with_chromiums_sandbox(
    contained: RunningServer, key: str
) -> None:
    client = sdk(contained, key)
    session = client.sessions.create()
    try:
        browser = live(contained, session.id)
        user = contained.fleet.containment.user if contained.fleet.containment else None
        assert user is not None and user.uid != 0
        assert _status(browser.pid)["Uid"].split()[0] == str(user.uid)
        deadline = time.monotonic() + 10
        while not (renderers := _renderers_of(browser.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert renderers, "no renderer found"
        for pid in renderers:  # Chromium's own sandbox: seccomp-bpf filter, no new privileges
            status = _status(pid)
            assert status["Seccomp"] == "2" and status["NoNewPrivs"] == "1", status
            assert _status(pid)["Uid"].split()[0] == str(user.uid)
        # nothing of the server's environment reaches the browser
        environ = Path(f"/proc/{browser.pid}/environ").read_bytes().split(b"\0")
        assert not [v for v in environ if v.startswith(b"BROWSERFLEET_")]
        pid = browser.pid
    finally:
        client.sessions.update(session.id, status="REQUEST_RELEASE")
    assert process_gone(pid)


def test_health_says_how_browsers_run(contained: RunningServer) -> None:
    report = httpx.get(f"{contained.url}/health", timeout=10).json()["containment"]
    assert report["active"] is True
    assert report["user"] == contained.settings.browser_user
    assert report["chromiumSandbox"] is True


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _renderers_of(browser_pid: int) -> list[int]:
    """Renderer processes of the browser (its descendants; Chromium rewrites their command line
    into one string)."""
    found = []
    for proc in descendants(browser_pid, processes()):
        with contextlib.suppress(OSError):
            if b"--type=renderer" in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                found.append(proc.pid)
    return found


def test_a_pooled_browsers_devtools_line_lives_in_its_sandbox(harness: FleetHarness) -> None:
    """The render lane's DevTools line (node/browser_line.py): the port is in the browser's own
    network namespace, outside the ephemeral range its jobs' egress channels take their ports
    from there, and nothing on the host's loopback answers on it."""
    pooled = harness.pool.browsers[0]
    assert pooled.jail is not None and pooled.line is not None and not pooled.line.closed
    pid = pooled.pid()
    assert pid is not None
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    profile = next(a.decode().split("=", 1)[1] for a in argv if a.startswith(b"--user-data-dir="))
    port = int((Path(profile) / "DevToolsActivePort").read_text().split()[0])
    low, high = (int(p) for p in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert not low <= port <= high
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
