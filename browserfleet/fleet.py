"""The composition root: store, blobs, dispatcher, the core services and this process's nodes.

Both the HTTP server (app.py) and the embedded CLI (``browserfleet render``) run a Fleet. It only
wires: every component builds itself from the settings (``from_settings``) and owns its own
behaviour (loops, bridges, figures); the Fleet decides what this process runs and starts and
stops it in order. A browser pool may be handed in so several fleets share one set of warm
browsers (tests do this).
"""

from __future__ import annotations

import asyncio
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
from browserfleet.core.backpressure import Backpressure
from browserfleet.core.browsing import BrowsingTasks, build_browsing
from browserfleet.core.jobs import JobKind
from browserfleet.core.lifecycle import mark_running
from browserfleet.core.pressure import measure
from browserfleet.core.ratelimit import RateLimiter
from browserfleet.core.reaper import Reaper
from browserfleet.core.renders import RenderPolicy, Renders
from browserfleet.core.retention import Purger
from browserfleet.core.sessions import (
    Contexts,
    Extensions,
    Fetches,
    FetchPolicy,
    SessionPolicy,
    Sessions,
    SessionSecrets,
)
from browserfleet.core.vault import KEY_FILE
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
from browserfleet.node.capacity import BudgetConfig, CapacityMonitor, NodeBudget, raise_open_files_limit
from browserfleet.node.egress import EgressPolicy, EgressProxy
from browserfleet.node.executor import Executor
from browserfleet.node.executors import build_executors
from browserfleet.node.local_nodes import build_local_nodes
from browserfleet.node.parts import NodeParts
from browserfleet.node.pool import BrowserPool
from browserfleet.node.proxies import ProxyPool
from browserfleet.node.sandbox import Containment, decide
from browserfleet.node.session.events import SessionEvents
from browserfleet.node.session.live import LiveSessions
from browserfleet.node.session.videos import SessionVideos
from browserfleet.node.worker import Node
from browserfleet.settings import CHROMIUM_FLAGS, POOL_FLAGS, Settings
from browserfleet.store.blobs import BlobStore
from browserfleet.store.ownership import DataDirLock
from browserfleet.store.private import FILE_MODE, check_data_dir, make_private
from browserfleet.store.repo import Store

if TYPE_CHECKING:
    from browserfleet.node.session.routes.deps import SessionServices

log = structlog.get_logger(__name__)
VERSION = version("browserfleet")
SESSION_VIDEO_PATH = "/v1/sessions/{owner}/recording/downloads/{name}"


def containment_of(settings: Settings) -> Containment:
    """How this node's browsers run (node/sandbox/); refuses a host that cannot contain them
    unless ``browser_containment`` allows it (Misconfigured)."""
    return decide(settings.browser_containment, settings.bwrap_path, settings.browser_user)


def build_pool(settings: Settings, containment: Containment | None = None) -> BrowserPool:
    return BrowserPool(
        settings.headless_shell_path,
        [*CHROMIUM_FLAGS, *POOL_FLAGS],
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
        self.proxies: ProxyPool
        self.accounts: Accounts
        self.contexts: Contexts
        self.extensions: Extensions
        self.renders: Renders
        self.sessions: Sessions
        self.backpressure: Backpressure  # the fleet's queue bound and fast 429s
        self.fetches: Fetches
        self.browsing: BrowsingTasks
        self.tasks: Tasks
        self.runs: Runs
        self.automation_files: FileSigner
        self.automation_limiter: RateLimiter
        self.feeds: Feeds
        self.webhooks: Webhooks
        self.session_videos: SessionVideos  # recording downloads (POST/GET …/recording/downloads)
        self.session_video_urls: FileSigner
        self.purger: Purger
        self.live_sessions = LiveSessions()
        self.containment: Containment | None = None  # this process's node(s): node/sandbox/
        self.egress: EgressProxy | None = None
        self.executors: dict[JobKind, Executor] = {}
        self.nodes: list[Node] = []
        self.budget: NodeBudget | None = None  # this process's node capacity (node/capacity/)
        self.capacity: CapacityMonitor | None = None
        self._session_events: SessionEvents | None = None  # ready/release (node/session/events.py)
        self._reaper: Reaper | None = None  # distributed mode: jobs of gone nodes (core/reaper.py)
        self._lock = DataDirLock(settings.data_dir)

    async def start(self, *, run_nodes: bool = True, own_jobs: bool | None = None) -> None:
        """``run_nodes``: run this process's node(s); ``own_jobs`` (default: ``run_nodes``): do the
        upkeep of the jobs — recovery, webhooks, purge, the reaper (distributed.py: roles)."""
        s = self.settings
        check_data_dir(s.data_dir)  # warned about; the database, blobs and key are made private
        make_private(s.data_dir / KEY_FILE, FILE_MODE)
        await self._open_store()
        self._build_services()
        self._build_automations()
        if run_nodes:
            # only the process that runs the nodes owns the jobs and their upkeep: an admin
            # command next to a running server must not requeue its running jobs, nor purge
            self._lock.acquire()
            await self._start_nodes()
        own_nodes = [n.labels.node_id for n in self.nodes]
        if own_jobs if own_jobs is not None else run_nodes:
            self._reaper = await recover_owned(s, self.store, self.dispatcher, own_nodes)
            self.webhooks.start()  # resumes pending deliveries (the process that owns the jobs)
            self.purger.start()
        elif run_nodes:
            await recover_node(s, self.store, self.dispatcher, own_nodes)

    async def _open_store(self) -> None:
        """The node's exits (validated first: in embedded mode they also answer core's "is this
        place served?"), the store, the blobs and the dispatcher."""
        s = self.settings
        self.proxies = ProxyPool.from_settings(s)
        self.store = await Store.open(s.resolved_database_url)
        self.blobs = build_blob_store(s, self.store)
        self.dispatcher = build_dispatcher(s)
        await self.dispatcher.start()
        self.purger = Purger.from_settings(self.store, self.blobs, s)

    def _build_services(self) -> None:
        """The families' core services, behind one admission (concurrency, balance)."""
        s, store, blobs, dispatcher = self.settings, self.store, self.blobs, self.dispatcher
        self.backpressure = Backpressure(dispatcher, max_queued=s.max_queued)
        admission = Admission(store, project_locks(dispatcher), self.backpressure)
        self.accounts = Accounts.from_settings(store, s)
        self.contexts = Contexts.from_settings(store, blobs, s)
        self.extensions = Extensions.from_settings(store, blobs, s)
        self.renders = Renders(
            store, blobs, dispatcher, admission, RenderPolicy.from_settings(s), exits=self.proxies
        )
        self.sessions = Sessions(
            store,
            dispatcher,
            admission,
            SessionPolicy.from_settings(s),
            contexts=self.contexts,
            exits=self.proxies,
            extensions=self.extensions,
            secrets=SessionSecrets(self.contexts.vault),
            backpressure=self.backpressure,
        )
        self.fetches = Fetches(
            store, blobs, dispatcher, admission, FetchPolicy.from_settings(s), exits=self.proxies
        )
        self.browsing = build_browsing(s, store, blobs, dispatcher, admission)
        vault = self.contexts.vault
        self.session_videos = SessionVideos(blobs, s.ffmpeg_path, encoders=s.session_video_encoders)
        self.session_video_urls = FileSigner(vault.key_for("session-videos", "v1"), SESSION_VIDEO_PATH)

    def _build_automations(self) -> None:
        """Tasks and runs (no admission: runs queue without a concurrency limit, metered by the
        monthly quota), the signer of their file URLs, the per-key rate limiter, feeds, and the
        run webhooks (targets pass the egress policy's check; file URLs use ``base_url``)."""
        s, store, dispatcher = self.settings, self.store, self.dispatcher
        self.tasks = Tasks(store)
        quota_locks = project_locks(dispatcher, QUOTA_LOCKS)
        self.runs = Runs(
            store,
            dispatcher,
            self.tasks,
            RunPolicy.from_settings(s),
            locks=quota_locks,
            backpressure=self.backpressure,
        )
        vault = self.contexts.vault
        self.automation_files = FileSigner(
            vault.key_for("automation-files", "v1"), ttl_s=s.automation_file_url_ttl_s
        )
        self.automation_limiter = rate_limiter(
            dispatcher, s.automation_rate_limit, s.automation_rate_window_s
        )
        self.feeds = Feeds(store, self.tasks)
        check = EgressPolicy.from_strings(s.allow_private_networks, s.egress_allow).reason_refused
        self.webhooks = Webhooks(
            store,
            vault,
            HttpSender(check),
            WebhookPolicy.from_settings(s),
            file_url=lambda run_uid, name: self.automation_files.url(s.base_url, run_uid, name),
        )
        self.runs.add_finished_hook(self.webhooks.on_run_finished)
        self.runs.start()

    async def _start_nodes(self) -> None:
        """The browsers (contained when the host can), the egress proxy, the executors, and the
        main node plus any ``local_nodes``, all sharing them."""
        s = self.settings
        self.containment = await asyncio.to_thread(containment_of, s)
        if self.pool is None:
            self.pool = build_pool(s, self.containment)
            await self.pool.start()
        self.egress = EgressProxy(EgressPolicy.from_strings(s.allow_private_networks, s.egress_allow))
        parts = NodeParts(
            pool=self.pool,
            egress=self.egress,
            proxies=self.proxies,
            containment=self.containment,
            live_sessions=self.live_sessions,
            contexts=self.contexts,
            extensions=self.extensions,
            on_running=lambda job_id: mark_running(self.store, self.dispatcher, job_id),
        )
        self.executors = build_executors(s, parts)
        if JobKind.SESSION in self.executors:
            self._session_events = SessionEvents(self.dispatcher, self.live_sessions)
            self._session_events.start()
        shared = {
            "store": self.store,
            "blobs": self.blobs,
            "dispatcher": self.dispatcher,
            "version": VERSION,
            "on_finished": self.metrics.job_finished,
        }
        raise_open_files_limit()  # hundreds of live sessions hold a few descriptors each
        self.budget = budget = await asyncio.to_thread(NodeBudget, BudgetConfig.from_settings(s))
        nodes = [
            Node.from_settings(s, self.executors, budget, **shared),
            *build_local_nodes(s, self.executors, max_attempts=s.max_attempts, budget=budget, **shared),
        ]
        for node in nodes:
            await node.start()
            self.nodes.append(node)
        self.capacity = CapacityMonitor(budget, self.live_sessions)
        self.capacity.on_change.append(self._capacity_changed)
        self.capacity.start()

    async def stop(self) -> None:
        if self._reaper:
            await self._reaper.stop()
        if hasattr(self, "purger"):  # absent when start failed early
            await self.purger.stop()
        if hasattr(self, "runs"):
            await self.runs.stop()
        if hasattr(self, "webhooks"):
            await self.webhooks.stop()
        if hasattr(self, "session_videos"):
            await self.session_videos.close()
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

    def _capacity_changed(self) -> None:
        for node in self.nodes:
            node.tick()

    async def _stop_nodes(self) -> None:
        if self.capacity is not None:
            await self.capacity.stop()
        for node in self.nodes:
            await node.stop()
        self.nodes.clear()
        for executor in self.executors.values():
            await executor.close()  # e.g. kept session_key browsers, before the pool goes

    async def pressure(self) -> dict[str, object]:
        """``GET /pressure`` (core/pressure.py), refreshing the metrics' gauges."""
        now = await measure(
            self.dispatcher,
            [node.info for node in self.nodes],
            distributed=self.settings.distributed,
            max_queued_setting=self.settings.max_queued,
        )
        self.metrics.observe(now, self.pool.launches if self.pool else None)
        return now.to_json()


if TYPE_CHECKING:

    def _serves_sessions(fleet: Fleet) -> SessionServices:
        """The node-local router reads ``app.state.fleet`` as its :class:`SessionServices`."""
        return fleet
