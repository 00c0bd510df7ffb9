"""The session executor: a dedicated browser per live session, driven by a remote CDP client.

Per session: an egress channel (the browser's only way out: ``--proxy-server`` plus
``--proxy-bypass-list=<-loopback>`` so even loopback goes through it, policy and byte counting
included), a temporary user-data-dir, and a ``chromium-headless-shell`` process (the full Chromium
with the extension loaded when the session names one: node/session/extensions.py) with a
DevTools port on 127.0.0.1 (read from ``DevToolsActivePort``), started by the node's launcher:
in a sandbox of its own as the browser user where the host allows it (node/sandbox/; its
network flags come from there too; the process helpers are in node/session/process.py). The
live session is registered in the node-local :class:`LiveSessions` registry (node/session/live.py),
which the node-local router (node/session/routes/) uses to authenticate clients with the signing key
and to find the browser's WebSocket. The job stays ``running`` until the first of:

* release requested (``LiveSessions.request_release``, fed by the dispatcher's release events:
  node/session/events.py);
* the session's timeout (→ ``SESSION_TIMEOUT``, the session reads ``TIMED_OUT``);
* unless ``keepAlive``: ``grace_s`` after its last client disconnected;
* the browser process died (→ ``BROWSER_CRASHED``, the session reads ``ERROR``);
* the node ran short of memory and ended it (→ ``MEMORY_PRESSURE``, ``ERROR``: node/capacity/).

Then the browser is killed, the temp folder removed, the channel closed, and usage recorded in the
job result: ``browserMinutes`` and ``proxyBytes``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from browserfleet.core.errors import ErrorCode, JobFailure
from browserfleet.core.firewall import CdpPolicy
from browserfleet.core.firewall.cdp import UPLOADS_PATH
from browserfleet.core.jobs import JobKind
from browserfleet.core.sessions import SessionSpec
from browserfleet.core.sessions.secrets import SessionSecrets
from browserfleet.node.captcha import CaptchaSolver, build_solver
from browserfleet.node.device_profiles import browser_version, profile_for
from browserfleet.node.egress import EgressChannel, EgressProxy
from browserfleet.node.executor import Execution, Executor
from browserfleet.node.profiles import Profiles, read_cookies, set_cookies
from browserfleet.node.proxies.routing import SessionRouting
from browserfleet.node.sandbox import BrowserLauncher, DirectLauncher, Folders, StartedBrowser, launcher_for
from browserfleet.node.session.captcha import SessionCaptchas
from browserfleet.node.session.extensions import ExtensionLaunch, SessionExtensions, extension_dir
from browserfleet.node.session.files import SessionFiles
from browserfleet.node.session.history import before_attach, history_blobs, open_history
from browserfleet.node.session.live import LiveSession, LiveSessions
from browserfleet.node.session.log import LogLimits
from browserfleet.node.session.process import browser_args, devtools_endpoint, kill
from browserfleet.node.session.recording import RecordingConfig
from browserfleet.node.session.screencast import ScreencastConfig, SessionScreencast
from browserfleet.node.session.supervisor import SessionSupervisor
from browserfleet.node.session.webdriver import ChromeDriver
from browserfleet.settings import CHROMIUM_FLAGS
from browserfleet.store.records import JobRecord

if TYPE_CHECKING:
    from browserfleet.node.parts import NodeParts
    from browserfleet.settings import Settings

log = structlog.get_logger(__name__)
TEMP_PREFIX = "browserfleet-session-"


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
        self.screencast = screencast  # None: no recording downloads (node/session/screencast.py)
        self.captcha_solver = captcha_solver  # solveCaptchas (node/session/captcha.py)
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

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        return settings.session_slots != 0

    @classmethod
    def from_settings(cls, settings: Settings, parts: NodeParts) -> SessionExecutor:
        s = settings
        return cls(
            s.headless_shell_path,
            [*CHROMIUM_FLAGS, *s.session_chromium_flags],
            parts.egress,
            parts.live_sessions,
            grace_s=s.session_grace_s,
            chromedriver=s.chromedriver_path,
            profiles=Profiles(parts.contexts),
            extensions=SessionExtensions(parts.extensions, s.chromium_path),
            captcha_solver=build_solver(s),
            captcha_timeout_s=s.captcha_timeout_s,
            secrets=SessionSecrets(parts.contexts.vault),
            log_limits=LogLimits.from_settings(s),
            recording=RecordingConfig.from_settings(s),
            screencast=ScreencastConfig.from_settings(s),
            files_root=s.session_files_dir or s.data_dir / "session-files",
            downloads_max_bytes=s.session_downloads_max_bytes,
            protocol_firewall=s.protocol_firewall,
            launcher=launcher_for(parts.containment),
            routing=SessionRouting.from_settings(s, parts.egress, parts.proxies),
        )

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
        return _outcome(spec, reason, usage, {**history_blobs(browser.live), **kept})

    def _opened(self, session_id: str, spec: SessionSpec) -> SessionSpec:
        """The spec with its signing key and proxy credentials opened (core/sessions/secrets.py);
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
                *browser_args(self.flags, spec, version, browser.user_data),
            ],
            Folders(
                writable=(browser.user_data, browser.files.downloads),
                readonly=(extension_dir(browser.user_data),) if extension else (),
                moved=((browser.files.uploads, Path(UPLOADS_PATH)),),  # the path clients are told
            ),
            channel,
        )
        browser.process = process = browser.started.process
        inside, path = await devtools_endpoint(browser.user_data, process)
        port = await browser.started.host_port(inside)  # contained: a bridge into its sandbox
        ws_url = f"ws://127.0.0.1:{port}{path}"
        session_log, recording, browser.screencast = open_history(
            job.id,
            spec,
            ws_url,
            log_limits=self.log_limits,
            recording=self.recording,
            screencast=self.screencast,
        )
        browser.supervisor = await SessionSupervisor.start(
            ws_url, profile_for(spec.os), version, before_attach=before_attach(recording, browser.screencast)
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
                uploads=browser.files.uploads,
                uploads_in_browser=UPLOADS_PATH if browser.started.contained else None,
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
            await kill(browser.process)
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
                await kill(process)
            return {"contextSaved": await self.profiles.save(spec.context_id, user_data, cookies)}
        except Exception:
            log.exception("context.save_failed", context_id=spec.context_id)
            return {"contextSaved": False}

    async def _hold(self, live: LiveSession, process: asyncio.subprocess.Process, deadline: float) -> str:
        """Wait until the session should end; returns why."""
        exited = asyncio.create_task(process.wait())
        try:
            while True:
                live.changed.clear()
                if live.released:
                    return "released"
                if live.shed:
                    return "memory"
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


def _outcome(spec: SessionSpec, reason: str, usage: dict[str, Any], blobs: dict[str, bytes]) -> Execution:
    if reason == "timeout":
        message = f"The session reached its {spec.session_timeout_s} second timeout"
        raise JobFailure(ErrorCode.SESSION_TIMEOUT, message, result=usage, blobs=blobs)
    if reason == "crashed":
        raise JobFailure(ErrorCode.BROWSER_CRASHED, "The session's browser exited", result=usage, blobs=blobs)
    if reason == "memory":
        raise JobFailure(ErrorCode.MEMORY_PRESSURE, result=usage, blobs=blobs)
    return Execution(result=usage, blobs=blobs, billable=False)
