"""The session executor: a dedicated browser per live session, driven by a remote CDP client.

Per session: an egress channel (the browser's only way out: ``--proxy-server`` plus
``--proxy-bypass-list=<-loopback>`` so even loopback goes through it, policy and byte counting
included), a temporary user-data-dir, and a ``chromium-headless-shell`` process (the full Chromium
with the extension loaded when the session names one: node/session_extensions.py) with a
DevTools port on 127.0.0.1 (read from ``DevToolsActivePort``), started by the node's launcher:
in a sandbox of its own as the browser user where the host allows it (node/sandbox/; its
network flags come from there too). The live session is registered in the node-local
:class:`LiveSessions` registry, which the CDP proxy (api/sessions/connect.py) uses to authenticate
clients with the signing key and to find the browser's WebSocket. The job stays ``running``
until the first of:

* release requested (``LiveSessions.request_release``, fed by the dispatcher's release events);
* the session's timeout (→ ``SESSION_TIMEOUT``, the session reads ``TIMED_OUT``);
* unless ``keepAlive``: ``grace_s`` after its last client disconnected;
* the browser process died (→ ``BROWSER_CRASHED``, the session reads ``ERROR``).

Then the browser is killed, the temp folder removed, the channel closed, and usage recorded in the
job result: ``browserMinutes`` and ``proxyBytes``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from browserfleet.core.errors import ErrorCode, JobFailure
from browserfleet.core.firewall import CdpPolicy
from browserfleet.core.jobs import JobKind
from browserfleet.core.session_secrets import SessionSecrets
from browserfleet.core.sessions import SessionSpec
from browserfleet.node.captcha import CaptchaSolver
from browserfleet.node.device_profiles import browser_version, profile_for
from browserfleet.node.egress import EgressChannel, EgressProxy
from browserfleet.node.executor import Execution, Executor
from browserfleet.node.profiles import Profiles, read_cookies, set_cookies
from browserfleet.node.proxies.routing import SessionRouting
from browserfleet.node.sandbox import BrowserLauncher, DirectLauncher, Folders, StartedBrowser
from browserfleet.node.session_captcha import SessionCaptchas
from browserfleet.node.session_extensions import ExtensionLaunch, SessionExtensions, extension_dir
from browserfleet.node.session_files import SessionFiles
from browserfleet.node.session_log import LogLimits, PageIds, SessionLog
from browserfleet.node.session_recording import RecordingConfig, SessionRecording
from browserfleet.node.session_screencast import ScreencastConfig, SessionScreencast
from browserfleet.node.session_supervisor import SessionSupervisor
from browserfleet.node.webdriver import ChromeDriver
from browserfleet.store.records import JobRecord

log = structlog.get_logger(__name__)
DEFAULT_VIEWPORT = (1280, 720)
LAUNCH_TIMEOUT_S = 20.0
TEMP_PREFIX = "browserfleet-session-"
LOG_BLOB = "logs.json"  # SessionLog[] of an ended session (api/sessions/history.py)
RECORDING_BLOB = "recording.json"  # SessionRecording[] of an ended session


@dataclass
class LiveSession:
    """A running session's browser, as the CDP proxy sees it."""

    session_id: str
    project_id: str
    signing_key: str
    keep_alive: bool
    browser_ws_url: str  # ws://127.0.0.1:PORT/devtools/browser/ID
    http_url: str  # http://127.0.0.1:PORT (the browser's own /json endpoints)
    pid: int
    user_data_dir: Path
    clients: int = 0
    connections: int = 0  # clients ever connected
    last_left: float | None = None
    released: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    webdriver: ChromeDriver | None = None  # started on the first WebDriver call (api/sessions/webdriver.py)
    log: SessionLog | None = None  # logSession: the clients' CDP traffic (node/session_log.py)
    recording: SessionRecording | None = None  # recordSession: rrweb events (node/session_recording.py)
    files: SessionFiles | None = None  # downloads and uploads (node/session_files.py)
    # what its clients may send the browser (core/firewall/cdp.py), checked by every pipe to it
    firewall: CdpPolicy = field(default_factory=CdpPolicy)
    # called with the client count when it changes (recordSession's screencast films while > 0)
    on_clients: list[Callable[[int], None]] = field(default_factory=list)

    def check_key(self, key: str | None) -> bool:
        return key is not None and hmac.compare_digest(key.encode(), self.signing_key.encode())


class LiveSessions:
    """Node-local registry of live sessions (session id → browser endpoint, key, client count).

    ``on_ready`` is called once a session's browser accepts clients (the fleet publishes the
    ``ready`` event from it). Release requests for a session not (yet) registered are remembered
    until it registers, so a release racing the browser launch is not lost.
    """

    def __init__(self) -> None:
        self._live: dict[str, LiveSession] = {}
        self._release_requested: set[str] = set()
        self.on_ready: Callable[[LiveSession], None] | None = None

    def __len__(self) -> int:
        return len(self._live)

    def get(self, session_id: str) -> LiveSession | None:
        return self._live.get(session_id)

    def add(self, live: LiveSession) -> None:
        self._live[live.session_id] = live
        if live.session_id in self._release_requested:
            self._release_requested.discard(live.session_id)
            live.released = True
        if self.on_ready:
            self.on_ready(live)

    def remove(self, session_id: str) -> None:
        self._live.pop(session_id, None)
        self._release_requested.discard(session_id)

    def request_release(self, session_id: str) -> None:
        live = self._live.get(session_id)
        if live is None:
            self._release_requested.add(session_id)
            return
        live.released = True
        live.changed.set()

    def client_connected(self, session_id: str) -> None:
        live = self._live.get(session_id)
        if live is not None:
            live.clients += 1
            live.connections += 1
            live.changed.set()
            for hook in live.on_clients:
                hook(live.clients)

    def client_disconnected(self, session_id: str) -> None:
        live = self._live.get(session_id)
        if live is not None:
            live.clients = max(0, live.clients - 1)
            if live.clients == 0:
                live.last_left = time.monotonic()
            live.changed.set()
            for hook in live.on_clients:
                hook(live.clients)


class SessionExecutor(Executor):
    kind = JobKind.SESSION

    def __init__(
        self,
        binary: Path,
        flags: Sequence[str],
        egress: EgressProxy,
        registry: LiveSessions,
        *,
        grace_s: float = 10.0,
        temp_root: Path | None = None,
        chromedriver: Path | None = None,
        routing: SessionRouting | None = None,
        profiles: Profiles | None = None,
        extensions: SessionExtensions | None = None,
        captcha_solver: CaptchaSolver | None = None,
        captcha_timeout_s: float = 120.0,
        secrets: SessionSecrets | None = None,
        log_limits: LogLimits | None = None,
        recording: RecordingConfig | None = None,
        screencast: ScreencastConfig | None = None,
        files_root: Path | None = None,
        downloads_max_bytes: int = 500 * 1024 * 1024,
        protocol_firewall: bool = True,
        launcher: BrowserLauncher | None = None,
    ) -> None:
        self.launcher = launcher or DirectLauncher()  # contained or not (node/sandbox/)
        self.protocol_firewall = protocol_firewall  # False only in tests (settings protocol_firewall)
        self.secrets = secrets  # opens the spec's sealed signing key and proxy credentials
        self.files_root = files_root or Path(tempfile.gettempdir()) / "browserfleet-session-files"
        self.downloads_max_bytes = downloads_max_bytes
        self.log_limits = log_limits  # None: no session logs on this node
        self.recording = recording  # None: no recordings (e.g. the rrweb bundle is missing)
        self.screencast = screencast  # None: no recording downloads (node/session_screencast.py)
        self.captcha_solver = captcha_solver  # solveCaptchas (node/session_captcha.py)
        self.captcha_timeout_s = captcha_timeout_s
        self.profiles = profiles  # contexts: restore before launch, save at the end (node/profiles.py)
        self.extensions = extensions  # extensionId: full Chromium + Extensions.loadUnpacked
        self.routing = routing  # proxies, allowedDomains, blockAds (node/proxies/routing.py)
        self.binary = binary
        self.flags = tuple(flags)
        self.egress = egress
        self.registry = registry
        self.grace_s = grace_s
        self.temp_root = temp_root
        self.chromedriver = chromedriver

    async def run(self, job: JobRecord) -> Execution:
        spec = self._opened(job.id, SessionSpec.model_validate(job.spec))
        started = time.monotonic()
        plan = (
            self.routing.plan(job.project_id, spec.proxies, spec.browser_settings) if self.routing else None
        )
        channel = await self.egress.open_channel(
            job.id, upstream=plan.upstream if plan else None, host_rules=plan.host_rules if plan else None
        )
        browser = _Browser(Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.temp_root)))
        reason = "released"
        try:
            live, process = await self._launch(job, spec, browser, channel)
            reason = await self._hold(live, process, started + spec.session_timeout_s)
        finally:
            saved = await self._close(job.id, spec, browser, reason)
            await channel.close()
            await asyncio.to_thread(shutil.rmtree, browser.user_data, True)
            await asyncio.to_thread(shutil.rmtree, extension_dir(browser.user_data), True)
            kept = await asyncio.to_thread(browser.files.finish) if browser.files is not None else {}
            if browser.screencast is not None:  # the pages' frames, for the recording downloads
                kept.update(await browser.screencast.finish())
        usage: dict[str, Any] = {
            "browserMinutes": round((time.monotonic() - started) / 60, 4),
            "proxyBytes": channel.stats.bytes_received + channel.stats.bytes_sent,
            "endReason": reason,
            **saved,
        }
        if plan is not None and plan.routes:
            usage["egress"] = {"routes": plan.routes}
        log.info("session.ended", session_id=job.id, reason=reason, **usage)
        return _outcome(spec, reason, usage, {**_history_blobs(browser.live), **kept})

    def _opened(self, session_id: str, spec: SessionSpec) -> SessionSpec:
        """The spec with its signing key and proxy credentials opened (core/session_secrets.py);
        they only ever live in this process's memory."""
        if self.secrets is None:
            return spec
        key = self.secrets.open_key(session_id, spec.signing_key)
        try:
            proxies = self.secrets.open_proxies(session_id, spec.proxies)
        except ValueError:
            key = None
        if key is None:
            message = "The session's secrets do not open with this node's secret_key"
            raise JobFailure(ErrorCode.INTERNAL_ERROR, message)
        return spec.model_copy(update={"signing_key": key, "proxies": proxies})

    def _history(
        self, session_id: str, spec: SessionSpec, browser: _Browser, ws_url: str
    ) -> tuple[SessionLog | None, SessionRecording | None]:
        """The session's log (``logSession``) and recording (``recordSession``: rrweb events, and
        the screencast frames on ``browser``), sharing page ids."""
        pages = PageIds()
        session_log = recording = None
        if self.log_limits is not None and spec.browser_settings.get("logSession", True):
            session_log = SessionLog(session_id, pages=pages, limits=self.log_limits)
        if spec.browser_settings.get("recordSession", True):
            if self.recording is not None:
                recording = SessionRecording(session_id, self.recording, pages)
            if self.screencast is not None:
                width, height = _viewport(spec)
                browser.screencast = SessionScreencast(
                    session_id, self.screencast, pages, browser_ws_url=ws_url, width=width, height=height
                )
        return session_log, recording

    async def _launch(
        self, job: JobRecord, spec: SessionSpec, browser: _Browser, channel: EgressChannel
    ) -> tuple[LiveSession, asyncio.subprocess.Process]:
        """Restore the context, start the browser, attach the supervisor, register the session."""
        extension = await self._extension(job, spec, browser.user_data)
        binary = extension.binary if extension else self.binary
        version = await asyncio.to_thread(browser_version, binary)
        cookies = await self._restore(spec, browser.user_data)
        browser.files = SessionFiles(self.files_root / job.id, downloads_max_bytes=self.downloads_max_bytes)
        await asyncio.to_thread(browser.files.create)
        browser.started = await self.launcher.start(
            [
                str(binary),
                *(extension.flags if extension else ()),
                *self._args(spec, version, browser.user_data),
            ],
            Folders(
                writable=(browser.user_data, browser.files.downloads),
                readonly=(browser.files.uploads, *((extension_dir(browser.user_data),) if extension else ())),
            ),
            channel,
        )
        browser.process = process = browser.started.process
        inside, path = await _devtools_endpoint(browser.user_data, process)
        port = await browser.started.host_port(inside)  # contained: a bridge into its sandbox
        ws_url = f"ws://127.0.0.1:{port}{path}"
        session_log, recording = self._history(job.id, spec, browser, ws_url)
        browser.supervisor = await SessionSupervisor.start(
            ws_url, profile_for(spec.os), version, before_attach=_before_attach(recording, browser.screencast)
        )
        if extension is not None:  # before the session is announced ready
            await SessionExtensions.load(browser.supervisor.cdp, extension)
        await browser.files.attach(browser.supervisor)
        if cookies:
            await set_cookies(browser.supervisor.cdp, cookies)
        if self.captcha_solver is not None and spec.browser_settings.get("solveCaptchas", True):
            captchas = SessionCaptchas(
                browser.supervisor.cdp,
                self.captcha_solver,
                timeout_s=self.captcha_timeout_s,
                image_selector=spec.browser_settings.get("captchaImageSelector"),
                input_selector=spec.browser_settings.get("captchaInputSelector"),
            )
            browser.supervisor.load_hooks.append(captchas.on_load)
        browser.live = live = LiveSession(
            session_id=job.id,
            project_id=job.project_id,
            signing_key=spec.signing_key,
            keep_alive=spec.keep_alive,
            browser_ws_url=ws_url,
            http_url=f"http://127.0.0.1:{port}",
            pid=browser.started.pid(),
            user_data_dir=browser.user_data,
            log=session_log,
            recording=recording,
            files=browser.files,
            firewall=CdpPolicy(
                downloads=browser.files.downloads,
                file_roots=(browser.files.uploads, browser.files.downloads),
                enabled=self.protocol_firewall,
            ),
            webdriver=(
                ChromeDriver(self.chromedriver, f"127.0.0.1:{inside}", browser=browser.started)
                if self.chromedriver
                else None
            ),
        )
        if browser.screencast is not None:  # films while a client is connected
            live.on_clients.append(browser.screencast.clients_changed)
        self.registry.add(browser.live)
        log.info("session.started", session_id=job.id, pid=live.pid, port=port)
        return live, process

    async def _extension(self, job: JobRecord, spec: SessionSpec, user_data: Path) -> ExtensionLaunch | None:
        """``extensionId``: the unpacked extension and the full Chromium it needs (else None)."""
        if spec.extension_id is None:
            return None
        if self.extensions is None:
            raise JobFailure(ErrorCode.EXTENSION_LOAD_FAILED, "This node does not run extensions")
        return await self.extensions.launch(job.project_id, spec.extension_id, user_data)

    async def _close(
        self, session_id: str, spec: SessionSpec, browser: _Browser, reason: str
    ) -> dict[str, Any]:
        """Unregister, detach WebDriver, save the context (persist), stop the browser."""
        self.registry.remove(session_id)
        saved: dict[str, Any] = {}
        if browser.live is not None and browser.live.webdriver is not None:
            await browser.live.webdriver.close()
        if browser.supervisor is not None:
            if browser.live is not None and browser.live.recording is not None and reason != "crashed":
                await browser.live.recording.flush(browser.supervisor.cdp)
            saved = await self._persist(spec, browser.supervisor, browser.process, browser.user_data, reason)
            await browser.supervisor.close()
        if browser.process is not None:
            await _kill(browser.process)
        if browser.started is not None:
            await browser.started.close()
        return saved

    async def _restore(self, spec: SessionSpec, user_data: Path) -> list[dict[str, Any]]:
        """The context's saved profile into the fresh user-data-dir; its saved cookies."""
        if self.profiles is None or spec.context_id is None:
            return []
        try:
            return await self.profiles.restore(spec.context_id, user_data)
        except Exception as exc:
            log.exception("context.restore_failed", context_id=spec.context_id)
            raise JobFailure(ErrorCode.CONTEXT_RESTORE_FAILED) from exc

    async def _persist(
        self,
        spec: SessionSpec,
        supervisor: SessionSupervisor,
        process: asyncio.subprocess.Process | None,
        user_data: Path,
        reason: str,
    ) -> dict[str, Any]:
        """``persist``: cookies over CDP, a clean close, then the profile saved (not after a crash).
        A failed save keeps the previous saved profile (it is only swapped once the new one is
        written)."""
        if self.profiles is None or spec.context_id is None or not spec.context_persist:
            return {}
        if process is None or reason == "crashed":
            return {"contextSaved": False}
        try:
            cookies = await read_cookies(supervisor.cdp)
            if not await supervisor.close_browser(process):
                log.warning("context.close_timeout", context_id=spec.context_id)
                await _kill(process)
            return {"contextSaved": await self.profiles.save(spec.context_id, user_data, cookies)}
        except Exception:
            log.exception("context.save_failed", context_id=spec.context_id)
            return {"contextSaved": False}

    def _args(self, spec: SessionSpec, version: str, user_data: Path) -> list[str]:
        width, height = DEFAULT_VIEWPORT
        if spec.viewport:
            width = int(spec.viewport.get("width") or width)
            height = int(spec.viewport.get("height") or height)
        args = [
            *self.flags,
            f"--user-data-dir={user_data}",
            f"--window-size={width},{height}",
        ]
        args.append(f"--user-agent={profile_for(spec.os).user_agent(version)}")
        if spec.browser_settings.get("ignoreCertificateErrors"):
            args.append("--ignore-certificate-errors")
        args.append("about:blank")
        return args

    async def _hold(self, live: LiveSession, process: asyncio.subprocess.Process, deadline: float) -> str:
        """Wait until the session should end; returns why."""
        exited = asyncio.create_task(process.wait())
        try:
            while True:
                live.changed.clear()
                if live.released:
                    return "released"
                now = time.monotonic()
                wake = deadline
                if not live.keep_alive and live.clients == 0 and live.last_left is not None:
                    grace_end = live.last_left + self.grace_s
                    if now >= grace_end:
                        return "disconnected"
                    wake = min(wake, grace_end)
                if now >= deadline:
                    return "timeout"
                changed = asyncio.create_task(live.changed.wait())
                done, _ = await asyncio.wait(
                    {changed, exited}, timeout=max(0.0, wake - now), return_when=asyncio.FIRST_COMPLETED
                )
                changed.cancel()
                if exited in done:
                    return "crashed"
        finally:
            exited.cancel()


@dataclass
class _Browser:
    """What a session has started so far (torn down in reverse order whatever happened)."""

    user_data: Path
    started: StartedBrowser | None = None
    process: asyncio.subprocess.Process | None = None
    supervisor: SessionSupervisor | None = None
    live: LiveSession | None = None
    files: SessionFiles | None = None
    screencast: SessionScreencast | None = None


def _viewport(spec: SessionSpec) -> tuple[int, int]:
    width, height = DEFAULT_VIEWPORT
    if spec.viewport:
        width = int(spec.viewport.get("width") or width)
        height = int(spec.viewport.get("height") or height)
    return width, height


def _before_attach(
    recording: SessionRecording | None, screencast: SessionScreencast | None
) -> Callable[[SessionSupervisor], None] | None:
    """What hooks into the supervisor before its first page (rrweb, screencast), or None."""
    hooks: list[Callable[[SessionSupervisor], None]] = []
    if recording is not None:
        hooks.append(recording.attach_to)
    if screencast is not None:
        hooks.append(screencast.attach_to)
    if not hooks:
        return None

    def attach(supervisor: SessionSupervisor) -> None:
        for hook in hooks:
            hook(supervisor)

    return attach


def _history_blobs(live: LiveSession | None) -> dict[str, bytes]:
    """What outlives the session: its log and recording, served from blobs once it ended."""
    blobs: dict[str, bytes] = {}
    if live is not None and live.log is not None:
        blobs[LOG_BLOB] = live.log.to_json()
    if live is not None and live.recording is not None:
        blobs[RECORDING_BLOB] = live.recording.to_json()
    return blobs


def _outcome(spec: SessionSpec, reason: str, usage: dict[str, Any], blobs: dict[str, bytes]) -> Execution:
    if reason == "timeout":
        message = f"The session reached its {spec.session_timeout_s} second timeout"
        raise JobFailure(ErrorCode.SESSION_TIMEOUT, message, result=usage, blobs=blobs)
    if reason == "crashed":
        raise JobFailure(ErrorCode.BROWSER_CRASHED, "The session's browser exited", result=usage, blobs=blobs)
    return Execution(result=usage, blobs=blobs, billable=False)


async def _devtools_endpoint(user_data: Path, process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Port and browser path from ``DevToolsActivePort`` (written once the debug server listens)."""
    marker = user_data / "DevToolsActivePort"
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise JobFailure(ErrorCode.BROWSER_CRASHED, "The session's browser exited during start-up")
        with contextlib.suppress(FileNotFoundError, ValueError):
            lines = marker.read_text().splitlines()
            if len(lines) >= 2:
                return int(lines[0]), lines[1].strip()
        await asyncio.sleep(0.02)
    raise JobFailure(ErrorCode.BROWSER_CRASHED, "The session's browser did not start in time")


async def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the browser's process group, SIGKILL it if it lingers; reap it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), 5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                _signal_group(process.pid, signal.SIGKILL)
            await process.wait()
    with contextlib.suppress(ProcessLookupError):  # helpers (renderers, zygote) of the group
        _signal_group(process.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    os.killpg(pid, sig)
