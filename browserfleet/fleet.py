"""The engine, wired: store, blobs, dispatcher, nodes and the core services on top.

Both the HTTP server (app.py) and the embedded CLI (``browserfleet render``) run a Fleet. A
browser pool may be handed in so several fleets share one set of warm browsers (tests do this).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from importlib.metadata import version
from typing import TYPE_CHECKING

import structlog

from browserfleet.core.accounts import Accounts
from browserfleet.core.admission import Admission
from browserfleet.core.automations import (
    Feeds,
    FileSigner,
    HttpSender,
    RunPolicy,
    Runs,
    Tasks,
    WebhookPolicy,
    Webhooks,
)
from browserfleet.core.browsing import BrowsingTasks, build_browsing
from browserfleet.core.jobs import JobKind, NodeLabels, utcnow
from browserfleet.core.lifecycle import mark_running
from browserfleet.core.ratelimit import RateLimiter
from browserfleet.core.reaper import Reaper
from browserfleet.core.renders import RenderPolicy, Renders
from browserfleet.core.retention import PurgeReport, purge
from browserfleet.core.sessions import (
    Contexts,
    Extensions,
    Fetches,
    FetchPolicy,
    SessionPolicy,
    Sessions,
    SessionSecrets,
)
from browserfleet.core.sessions.extension_archive import ArchiveLimits
from browserfleet.core.vault import KEY_FILE, Vault
from browserfleet.dispatch.base import Dispatcher
from browserfleet.distributed import (
    QUOTA_LOCKS,
    build_blob_store,
    build_dispatcher,
    project_locks,
    rate_limiter,
    recover_node,
    recover_owned,
)
from browserfleet.metrics import Metrics
from browserfleet.node.agent.executor import AgentExecutor, build_agent_executor
from browserfleet.node.automation import AutomationExecutor
from browserfleet.node.captcha import build_solver
from browserfleet.node.egress import EgressPolicy, EgressProxy
from browserfleet.node.egress.hostrules import load_ad_hosts
from browserfleet.node.executor import Executor
from browserfleet.node.fetch import FetchExecutor
from browserfleet.node.local_nodes import build_local_nodes
from browserfleet.node.pool import BrowserPool
from browserfleet.node.profiles import Profiles
from browserfleet.node.proxies import ProxyPool, SessionRouting
from browserfleet.node.render import RenderExecutor
from browserfleet.node.sandbox import Containment, decide, launcher_for
from browserfleet.node.session.events import SessionEvents
from browserfleet.node.session.executor import SessionExecutor
from browserfleet.node.session.extensions import SessionExtensions
from browserfleet.node.session.live import LiveSessions
from browserfleet.node.session.log import LogLimits
from browserfleet.node.session.recording import RecordingConfig, build_script
from browserfleet.node.session.screencast import ScreencastConfig
from browserfleet.node.session.videos import SessionVideos
from browserfleet.node.worker import Node
from browserfleet.settings import CHROMIUM_FLAGS, Settings
from browserfleet.store.blobs import BlobStore
from browserfleet.store.ownership import DataDirLock
from browserfleet.store.private import FILE_MODE, check_data_dir, make_private
from browserfleet.store.repo import Store

if TYPE_CHECKING:
    from browserfleet.node.session.routes.deps import SessionServices

log = structlog.get_logger(__name__)
VERSION = version("browserfleet")


def containment_of(settings: Settings) -> Containment:
    """How this node's browsers run (node/sandbox/); refuses a host that cannot contain them
    unless ``browser_containment`` allows it (Misconfigured)."""
    return decide(settings.browser_containment, settings.bwrap_path, settings.browser_user)


def build_pool(settings: Settings, containment: Containment | None = None) -> BrowserPool:
    return BrowserPool(
        settings.headless_shell_path,
        CHROMIUM_FLAGS,
        size=settings.browsers,
        recycle_after=settings.browser_recycle_after,
        containment=containment if containment is not None else containment_of(settings),
    )


class Fleet:
    def __init__(self, settings: Settings, *, pool: BrowserPool | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self._given_pool = pool
        self.pool: BrowserPool | None = pool
        self.store: Store
        self.blobs: BlobStore
        self.dispatcher: Dispatcher
        self.accounts: Accounts
        self.renders: Renders
        self.sessions: Sessions
        self.contexts: Contexts
        self.extensions: Extensions
        self.fetches: Fetches
        self.browsing: BrowsingTasks
        self.agent_executor: AgentExecutor | None = None
        self.tasks: Tasks
        self.runs: Runs
        self.automation_files: FileSigner
        self.session_videos: SessionVideos  # recording downloads (POST/GET …/recording/downloads)
        self.session_video_urls: FileSigner
        self.automation_limiter: RateLimiter
        self.feeds: Feeds
        self.webhooks: Webhooks
        self._run_watcher: asyncio.Task[None] | None = None
        self.live_sessions = LiveSessions()
        self._session_events: SessionEvents | None = None  # ready/release (node/session/events.py)
        self.egress: EgressProxy | None = None
        self.containment: Containment | None = None  # this process's node(s): node/sandbox/
        self.proxies: ProxyPool
        self.nodes: list[Node] = []
        self._purger: asyncio.Task[None] | None = None
        self._reaper: Reaper | None = None  # distributed mode: jobs of gone nodes (core/reaper.py)
        self._lock = DataDirLock(settings.data_dir)

    async def start(self, *, run_nodes: bool = True, own_jobs: bool | None = None) -> None:
        """``run_nodes``: run this process's node(s); ``own_jobs`` (default: ``run_nodes``): do the
        upkeep of the jobs — recovery, webhooks, purge, the reaper (distributed.py: roles)."""
        s = self.settings
        check_data_dir(s.data_dir)  # warned about; the database, blobs and key are made private
        make_private(s.data_dir / KEY_FILE, FILE_MODE)
        # the node's exits, validated first; in embedded mode they also answer core's "is this
        # place served?" (require_geo_proxy)
        self.proxies = ProxyPool.from_settings(s)
        self.store = await Store.open(s.resolved_database_url)
        self.blobs = build_blob_store(s, self.store)
        self.dispatcher = build_dispatcher(s)
        await self.dispatcher.start()
        self.accounts = Accounts(
            self.store,
            free_cents=s.new_project_free_cents,
            concurrency=s.default_concurrency,
            timeout_s=s.default_job_timeout_s,
        )
        policy = RenderPolicy(
            timeout_cap_s=s.render_timeout_s,
            api_retention=timedelta(hours=s.api_retention_hours),
            debug_retention=timedelta(days=s.debug_retention_days),
            require_geo_proxy=s.require_geo_proxy,
        )
        admission = Admission(self.store, project_locks(self.dispatcher))
        self.contexts = Contexts(
            self.store,
            self.blobs,
            Vault.from_settings(s.secret_key, s.data_dir),
            max_bytes=s.context_max_bytes,
            upload_ttl_s=s.context_upload_ttl_s,
        )
        self.extensions = Extensions(
            self.store, self.blobs, ArchiveLimits(s.extension_max_bytes, s.extension_max_files)
        )
        self.renders = Renders(self.store, self.blobs, self.dispatcher, admission, policy, exits=self.proxies)
        self.sessions = Sessions(
            self.store,
            self.dispatcher,
            admission,
            SessionPolicy(
                min_timeout_s=s.session_min_timeout_s,
                start_timeout_s=s.session_start_timeout_s,
                require_geo_proxy=s.require_geo_proxy,
                node_country=s.node_country,
                keep_blobs_days=s.debug_retention_days,
            ),
            contexts=self.contexts,
            exits=self.proxies,
            extensions=self.extensions,
            secrets=SessionSecrets(self.contexts.vault),
        )
        self.fetches = Fetches(
            self.store,
            self.blobs,
            self.dispatcher,
            admission,
            FetchPolicy(
                timeout_s=s.fetch_timeout_s, max_bytes=s.fetch_max_bytes, node_country=s.node_country
            ),
            exits=self.proxies,
        )
        self.browsing = build_browsing(s, self.store, self.blobs, self.dispatcher, admission)
        self._start_automations()
        self._start_session_videos()
        if run_nodes:
            # only the process that runs the nodes owns the jobs and their upkeep: an admin
            # command next to a running server must not requeue its running jobs, nor purge
            self._lock.acquire()
            await self._start_node()
        own_nodes = [n.labels.node_id for n in self.nodes]
        if own_jobs if own_jobs is not None else run_nodes:
            self._reaper = await recover_owned(s, self.store, self.dispatcher, own_nodes)
            self.webhooks.start()  # resumes pending deliveries (the process that owns the jobs)
            self._purger = asyncio.create_task(self._purge_loop(), name="purge")
        elif run_nodes:
            await recover_node(s, self.store, self.dispatcher, own_nodes)

    def _start_session_videos(self) -> None:
        """Recording downloads: the encoder of the pages' MP4s and the signer of their URLs."""
        s = self.settings
        self.session_videos = SessionVideos(self.blobs, s.ffmpeg_path, encoders=s.session_video_encoders)
        path = "/v1/sessions/{owner}/recording/downloads/{name}"
        self.session_video_urls = FileSigner(self.contexts.vault.key_for("session-videos", "v1"), path)

    def _start_automations(self) -> None:
        """Tasks and runs (no admission: runs queue without a concurrency limit, metered by the
        monthly quota), the signer of their file URLs, the per-key rate limiter, and the loop
        that calls the run-finished hooks."""
        s = self.settings
        self.tasks = Tasks(self.store)
        policy = RunPolicy(
            default_quota=s.automation_default_quota,
            timeout_s=s.automation_run_timeout_s,
            file_retention=timedelta(days=s.automation_file_retention_days),
        )
        self.runs = Runs(
            self.store, self.dispatcher, self.tasks, policy, locks=project_locks(self.dispatcher, QUOTA_LOCKS)
        )
        self.automation_files = FileSigner(
            self.contexts.vault.key_for("automation-files", "v1"), ttl_s=s.automation_file_url_ttl_s
        )
        self.automation_limiter = rate_limiter(
            self.dispatcher, s.automation_rate_limit, s.automation_rate_window_s
        )
        self._run_watcher = asyncio.create_task(self.runs.watch(), name="run-hooks")
        self.feeds = Feeds(self.store, self.tasks)
        self._start_webhooks()

    def _start_webhooks(self) -> None:
        """Run webhooks: the run-finished hook queues a delivery; :meth:`Webhooks.start` (in
        :meth:`start`, with the nodes) sends them. Targets pass the egress policy's check; file
        URLs in the posted run use ``public_url`` (else ``http://host:port``)."""
        s = self.settings
        check = EgressPolicy.from_strings(s.allow_private_networks, s.egress_allow).reason_refused
        self.webhooks = Webhooks(
            self.store,
            self.contexts.vault,
            HttpSender(check),
            WebhookPolicy(s.webhook_timeout_s, s.webhook_max_attempts, s.webhook_backoff_s),
            file_url=lambda run_uid, name: self.automation_files.url(s.base_url, run_uid, name),
        )
        self.runs.add_finished_hook(self.webhooks.on_run_finished)

    async def _start_node(self) -> None:
        s = self.settings
        self.containment = await asyncio.to_thread(containment_of, s)
        if self.pool is None:
            self.pool = build_pool(s, self.containment)
            await self.pool.start()
        self.egress = EgressProxy(EgressPolicy.from_strings(s.allow_private_networks, s.egress_allow))
        executors: dict[JobKind, Executor] = {
            JobKind.RENDER: RenderExecutor(
                self.pool,
                self.egress,
                s.render_navigation_timeout_s,
                proxies=self.proxies,
                captcha_solver=build_solver(s),
            ),
            # a fetch holds no browser: its own slots (kind_slots below), never a render's
            JobKind.FETCH: FetchExecutor(self.egress, proxies=self.proxies),
            JobKind.STEPS: AutomationExecutor(
                self.pool, self.egress, ffmpeg=s.ffmpeg_path, captcha_solver=build_solver(s)
            ),
        }
        self.agent_executor = build_agent_executor(
            s,
            self.pool,
            self.egress,
            on_running=lambda job_id: mark_running(self.store, self.dispatcher, job_id),
            captcha_solver=build_solver(s),
        )
        executors[JobKind.AGENT] = self.agent_executor
        if s.session_slots:
            executors[JobKind.SESSION] = SessionExecutor(
                s.headless_shell_path,
                [*CHROMIUM_FLAGS, *s.session_chromium_flags],
                self.egress,
                self.live_sessions,
                grace_s=s.session_grace_s,
                chromedriver=s.chromedriver_path,
                profiles=Profiles(self.contexts),
                extensions=SessionExtensions(self.extensions, s.chromium_path),
                captcha_solver=build_solver(s),
                captcha_timeout_s=s.captcha_timeout_s,
                secrets=SessionSecrets(self.contexts.vault),
                log_limits=LogLimits(
                    s.session_log_max_records, s.session_log_max_bytes, s.session_log_max_body_bytes
                ),
                recording=_recording_config(s),
                screencast=_screencast_config(s),
                files_root=s.session_files_dir or s.data_dir / "session-files",
                downloads_max_bytes=s.session_downloads_max_bytes,
                protocol_firewall=s.protocol_firewall,
                launcher=launcher_for(self.containment),
                routing=SessionRouting(
                    policy=self.egress.policy,
                    attempt_timeout=self.egress.connect_timeout / 2,
                    pool=self.proxies,
                    node_country=s.node_country,
                    ad_hosts=load_ad_hosts(s.ad_block_hosts_file),
                ),
            )
            self._session_events = SessionEvents(self.dispatcher, self.live_sessions)
            self._session_events.start()
        labels = NodeLabels(node_id=s.node_id, region=s.node_region, country=s.node_country, city=s.node_city)
        node = Node(
            labels,
            s.node_slots,
            store=self.store,
            blobs=self.blobs,
            dispatcher=self.dispatcher,
            executors=executors,
            max_attempts=s.max_attempts,
            version=VERSION,
            on_finished=self.metrics.job_finished,
            advertised_url=s.advertised_url if s.distributed else None,
            heartbeat_s=min(5.0, s.node_ttl_s / 3),
            kind_slots={
                JobKind.FETCH: s.fetch_slots,
                **({JobKind.SESSION: s.session_slots} if s.session_slots else {}),
            },
        )
        await node.start()
        self.nodes.append(node)
        for extra in build_local_nodes(
            s,
            executors,
            store=self.store,
            blobs=self.blobs,
            dispatcher=self.dispatcher,
            max_attempts=s.max_attempts,
            version=VERSION,
            on_finished=self.metrics.job_finished,
        ):
            await extra.start()
            self.nodes.append(extra)

    async def stop(self) -> None:
        if self._reaper:
            await self._reaper.stop()
        if self._purger:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        if self._run_watcher:
            self._run_watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._run_watcher
        if webhooks := getattr(self, "webhooks", None):  # absent when start failed early
            await webhooks.stop()
        if session_videos := getattr(self, "session_videos", None):
            await session_videos.close()
        if self._session_events:
            await self._session_events.stop()
        await self._stop_nodes()
        if self.egress:
            await self.egress.close()
        if self.pool and self._given_pool is None:
            await self.pool.close()
        await self.dispatcher.close()
        await self.store.close()
        self._lock.release()

    async def _stop_nodes(self) -> None:
        for node in self.nodes:
            await node.stop()
        self.nodes.clear()
        if self.agent_executor:
            await self.agent_executor.close()  # kept session_key browsers, before the pool goes

    async def purge_once(self) -> PurgeReport:
        return await purge(
            self.store, self.blobs, now=utcnow(), retention=timedelta(days=self.settings.retention_days)
        )

    async def _purge_loop(self) -> None:
        while True:
            try:
                await self.purge_once()
            except Exception:
                log.exception("retention.failed")
            await asyncio.sleep(self.settings.purge_interval_s)

    async def pressure(self) -> dict[str, object]:
        queued = await self.dispatcher.queued()
        # the whole fleet: every live node of the registry when distributed, else this process's
        nodes = await self.dispatcher.registry.nodes() if self.settings.distributed else self.nodes
        slots = sum(n.slots for n in nodes)
        running = sum(n.in_use for n in nodes)
        self.metrics.queued.set(queued)
        self.metrics.running.set(running)
        self.metrics.slots.set(slots)
        if self.pool:
            self.metrics.browser_launches.set(self.pool.launches)
        return {
            "running": running,
            "queued": queued,
            "limits": {"slots": slots, "nodes": len(nodes), "maxQueued": slots * 50},
            "accepting": slots > 0 and queued < slots * 50,
        }


def _screencast_config(s: Settings) -> ScreencastConfig | None:
    """recordSession's screencast frames (recording downloads); None when turned off (max 0)."""
    if not s.session_video_max_bytes:
        return None
    return ScreencastConfig(s.session_files_dir or s.data_dir / "session-files", s.session_video_max_bytes)


def _recording_config(s: Settings) -> RecordingConfig | None:
    """recordSession's script (rrweb bundle + starter); None when the bundle is missing (logged)."""
    script = build_script(s.rrweb_record_path)
    if script is None:
        return None
    return RecordingConfig(script, s.session_recording_max_events, s.session_recording_max_bytes)


if TYPE_CHECKING:

    def _serves_sessions(fleet: Fleet) -> SessionServices:
        """The node-local router reads ``app.state.fleet`` as its :class:`SessionServices`."""
        return fleet
