"""The session service: live browsers a client drives over CDP, as jobs of kind ``session``.

A session is admitted against the project's concurrency limit (never against the balance:
sessions are not charged per job, their usage — browser minutes, proxy bytes — is recorded in the
job's result), inserted as a job and handed to the dispatcher like any other job. A node's session
executor (node/session/executor.py) starts a dedicated browser, announces it with a ``ready`` event and
holds the job ``running`` until it is released, times out, or loses its last client.

Release travels as a ``JobEvent(kind="release")`` through the dispatcher, so it reaches the node
wherever it runs (in-process today, pub/sub when distributed).

Session status is derived from the job state::

    queued, assigned        → PENDING
    running                 → RUNNING
    completed, cancelled    → COMPLETED   (cancelled: released before a node started it)
    failed, timeout code    → TIMED_OUT
    failed, any other code  → ERROR       (e.g. NODE_LOST after a restart, BROWSER_CRASHED)
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from browserfleet.core.accounts import new_id
from browserfleet.core.admission import Admission
from browserfleet.core.backpressure import Backpressure, sessions_full
from browserfleet.core.errors import ErrorCode, InvalidRequest, NotFound
from browserfleet.core.exits import ExitDirectory
from browserfleet.core.jobs import JobKind, JobState, Route, RouteKind
from browserfleet.core.lifecycle import finish, wait_for
from browserfleet.core.sessions.contexts import Contexts
from browserfleet.core.sessions.egress import check_session_egress
from browserfleet.core.sessions.extensions import Extensions
from browserfleet.core.sessions.secrets import SessionSecrets
from browserfleet.dispatch.base import Dispatcher, JobEvent, Subscription, Ticket
from browserfleet.store.records import JobOutcome, JobRecord, ProjectRecord
from browserfleet.store.repo import Store
from browserfleet.store.repo.listing import JobFilter

if TYPE_CHECKING:
    from browserfleet.settings import Settings

SESSION_REGIONS = ("us-west-2", "us-east-1", "eu-central-1", "ap-southeast-1")
DEFAULT_REGION = "us-west-2"
MAX_TIMEOUT_S = 21600
DEFAULT_MIN_TIMEOUT_S = 60  # Browserbase's minimum; the operator may lower it (session_min_timeout_s)
TIMEOUT_CODES = frozenset({ErrorCode.SESSION_TIMEOUT.value, ErrorCode.RENDER_TIMEOUT.value})
READY_EVENT = "ready"  # published by the node once the session's browser accepts CDP clients
LIST_LIMIT = 1000  # the newest sessions a list reads
RELEASE_EVENT = "release"  # published by core: the node ends the session


class _Start(StrEnum):
    QUEUED = "queued"  # no node took the job in time
    SLOW = "slow"  # a node took it; its browser was not ready in time
    READY = "ready"  # the browser is up (or the job ended already)


class SessionStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    ERROR = "ERROR"
    TIMED_OUT = "TIMED_OUT"
    COMPLETED = "COMPLETED"


class SessionOptions(BaseModel):
    """What a client may ask of a session; shared by the create request and the job spec."""

    model_config = ConfigDict(extra="ignore")

    keep_alive: bool = False
    user_metadata: dict[str, Any] | None = None
    context_id: str | None = None
    context_persist: bool = False  # save the profile back into the context when the session ends
    extension_id: str | None = None
    proxies: Any = None
    viewport: dict[str, int] | None = None
    os: str | None = None
    browser_settings: dict[str, Any] = Field(default_factory=dict)


class SessionRequest(SessionOptions):
    """A validated create request (the API translates the wire body into this)."""

    timeout_s: int | None = None
    region: str | None = None


class SessionSpec(SessionOptions):
    """What a session job carries in ``spec`` (core writes it, the node reads it)."""

    timeout_s: float  # the node's outer guard: session_timeout_s plus a margin
    session_timeout_s: int
    signing_key: str  # sealed (core/sessions/secrets.py), as are the credentials in ``proxies``
    region: str = DEFAULT_REGION


@dataclass(frozen=True)
class SessionPolicy:
    min_timeout_s: int = DEFAULT_MIN_TIMEOUT_S
    max_timeout_s: int = MAX_TIMEOUT_S
    start_timeout_s: float = 30.0
    queue_wait_s: float = 1.0  # a node with room takes the job within this, else 429
    release_wait_s: float = 15.0
    guard_s: float = 30.0  # margin of the node's outer timeout over the session's own
    require_geo_proxy: bool = False  # proxies for a place no exit serves → 400 (sessions/egress.py)
    proxy_direct_fallback: bool = False  # no exit proxy at all: proxies go direct, not a 400
    node_country: str | None = None  # the place of proxies: true
    keep_blobs_days: float = 7.0  # an ended session's logs and recording (retention)

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        s = settings
        return cls(
            min_timeout_s=s.session_min_timeout_s,
            start_timeout_s=s.session_start_timeout_s,
            queue_wait_s=s.session_queue_wait_s,
            require_geo_proxy=s.require_geo_proxy,
            proxy_direct_fallback=s.session_proxy_direct_fallback,
            node_country=s.node_country,
            keep_blobs_days=s.debug_retention_days,
        )


@dataclass(frozen=True)
class SessionView:
    job: JobRecord
    spec: SessionSpec
    signing_key: str | None = None  # opened for its owner while the session is live, else None

    @property
    def status(self) -> SessionStatus:
        return session_status(self.job)

    @property
    def started_at(self) -> datetime:
        return self.job.started_at or self.job.created_at

    @property
    def expires_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.spec.session_timeout_s)

    @property
    def proxy_bytes(self) -> int:
        return int((self.job.result or {}).get("proxyBytes", 0))

    @property
    def browser_minutes(self) -> float:
        return float((self.job.result or {}).get("browserMinutes", 0.0))


def session_status(job: JobRecord) -> SessionStatus:
    match job.state:
        case JobState.QUEUED | JobState.ASSIGNED:
            return SessionStatus.PENDING
        case JobState.RUNNING:
            return SessionStatus.RUNNING
        case JobState.COMPLETED | JobState.CANCELLED:
            return SessionStatus.COMPLETED
        case JobState.FAILED:
            return SessionStatus.TIMED_OUT if job.error_code in TIMEOUT_CODES else SessionStatus.ERROR


_CLAUSE = r"user_metadata((?:\[\s*'[^']*'\s*\])+)\s*:\s*'((?:[^'\\]|\\.)*)'"
# The grammar of a session list's ``q``, also its documented ``pattern``: clauses joined by AND
# (any case). A value may hold " AND ": the whole query is matched, never split on text.
METADATA_QUERY = rf"^\s*{_CLAUSE}(?:\s+[Aa][Nn][Dd]\s+{_CLAUSE})*\s*$"
_QUERY = re.compile(METADATA_QUERY)
_CLAUSES = re.compile(_CLAUSE)
_KEY = re.compile(r"\[\s*'([^']*)'\s*\]")


def parse_metadata_query(q: str) -> list[tuple[list[str], str]]:
    """``user_metadata['a']['b']:'v' AND user_metadata['c']:'w'`` → ``[(["a","b"], "v"), (["c"], "w")]``."""
    if _QUERY.fullmatch(q) is None:
        message = "q must look like user_metadata['key']:'value' (clauses joined by AND)"
        raise InvalidRequest(message, details=[{"field": "q", "message": message}])
    return [
        (_KEY.findall(clause.group(1)), clause.group(2).replace("\\'", "'"))
        for clause in _CLAUSES.finditer(q)
    ]


def metadata_matches(metadata: dict[str, Any] | None, clauses: list[tuple[list[str], str]]) -> bool:
    for keys, value in clauses:
        current: Any = metadata or {}
        for key in keys:
            if not isinstance(current, dict) or key not in current:
                return False
            current = current[key]
        if isinstance(current, bool):
            current = "true" if current else "false"
        if isinstance(current, dict | list) or str(current) != value:
            return False
    return True


def _status_filter(status: SessionStatus | None) -> JobFilter:
    """The jobs of sessions in ``status`` (a failed job is TIMED_OUT or ERROR by its code)."""
    if status is None:
        return JobFilter()
    filters = JobFilter(states=tuple(_STATES_FOR[status]))
    if status is SessionStatus.TIMED_OUT:
        return replace(filters, error_codes_in=tuple(TIMEOUT_CODES))
    if status is SessionStatus.ERROR:
        return replace(filters, error_codes_not_in=tuple(TIMEOUT_CODES))
    return filters


_STATES_FOR: dict[SessionStatus, list[JobState]] = {
    SessionStatus.PENDING: [JobState.QUEUED, JobState.ASSIGNED],
    SessionStatus.RUNNING: [JobState.RUNNING],
    SessionStatus.COMPLETED: [JobState.COMPLETED, JobState.CANCELLED],
    SessionStatus.TIMED_OUT: [JobState.FAILED],
    SessionStatus.ERROR: [JobState.FAILED],
}


class Sessions:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        admission: Admission,
        policy: SessionPolicy,
        contexts: Contexts | None = None,
        *,
        exits: ExitDirectory | None = None,
        extensions: Extensions | None = None,
        secrets: SessionSecrets,
        backpressure: Backpressure | None = None,
    ) -> None:
        self.secrets = secrets
        self.backpressure = backpressure  # fast 429 of a full fleet (core/backpressure.py)
        self.exits = exits
        self.extensions = extensions
        self.store = store
        self.dispatcher = dispatcher
        self.admission = admission
        self.policy = policy
        self.contexts = contexts

    def resolve_timeout(self, project: ProjectRecord, requested: int | None) -> int:
        low, high = self.policy.min_timeout_s, self.policy.max_timeout_s
        if requested is None:
            return max(low, min(high, int(project.default_timeout_s)))
        if not low <= requested <= high:
            message = f"timeout must be between {low} and {high} seconds"
            raise InvalidRequest(message, details=[{"field": "timeout", "message": message}])
        return requested

    async def create(self, project: ProjectRecord, request: SessionRequest) -> SessionView:
        """Admit, queue and wait (bounded) until a node has the session's browser up. A fleet
        without room answers 429 at once, or after ``queue_wait_s`` if no node took the job."""
        timeout_s = self.resolve_timeout(project, request.timeout_s)
        check_session_egress(
            request.proxies,
            request.browser_settings.get("allowedDomains"),
            exits=self.exits,
            require_geo_proxy=self.policy.require_geo_proxy,
            node_country=self.policy.node_country,
            direct_fallback=self.policy.proxy_direct_fallback,
        )
        session_id = new_id("ses")
        signing_key = secrets.token_urlsafe(32)
        spec = SessionSpec(
            **request.model_dump(exclude={"timeout_s", "region", "proxies"}),
            proxies=self.secrets.seal_proxies(session_id, request.proxies),
            timeout_s=timeout_s + self.policy.guard_s,
            session_timeout_s=timeout_s,
            signing_key=self.secrets.seal_key(session_id, signing_key),
            region=request.region or DEFAULT_REGION,
        )
        if request.context_id is not None and self.contexts is not None:
            await self.contexts.require(project, request.context_id)
        if request.extension_id is not None and self.extensions is not None:
            await self.extensions.require(project, request.extension_id, "extensionId")
        route = await self._route(request.region)
        if self.backpressure is not None:
            await self.backpressure.check_sessions(route)
        subscription = self.dispatcher.subscribe([session_id])
        try:
            async with self.admission.admit(project, JobKind.SESSION, billable=False):
                if request.context_id is not None and request.context_persist and self.contexts is not None:
                    await self.contexts.check_exclusive(project, request.context_id)
                job = await self.store.insert_job(
                    job_id=session_id,
                    project_id=project.id,
                    kind=JobKind.SESSION,
                    route=route,
                    spec=spec.model_dump(mode="json"),
                    keep_blobs_days=self.policy.keep_blobs_days,
                )
            await self.dispatcher.submit(Ticket(job.id, project.id, job.kind, job.route))
            if await self._started(subscription, job.id) is _Start.QUEUED:
                if await self.dispatcher.withdraw(job.id):
                    await self.store.discard_job(job.id)  # refused: no trace of it is kept
                    raise sessions_full()
                # a node took it in the last instant (its events may still be on their way)
                await self._until(subscription, job.id, self.policy.start_timeout_s, ready=True)
        finally:
            await subscription.close()
        view = await self._view(project, job.id)
        if view.job.error_code == ErrorCode.EXTENSION_LOAD_FAILED.value:  # the client's extension
            message = view.job.error_message or ErrorCode.EXTENSION_LOAD_FAILED.default_message
            raise InvalidRequest(message, details=[{"field": "extensionId", "message": message}])
        return replace(view, signing_key=signing_key)  # the creator gets the key, whatever the state

    async def _started(self, subscription: Subscription, job_id: str) -> _Start:
        """Wait ``queue_wait_s`` for a node to take the job, then ``start_timeout_s`` for its
        browser to be ready (or the job to end)."""
        loop = asyncio.get_running_loop()
        taken = False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.policy.queue_wait_s) as deadline:
                async for event in subscription:
                    if event.job_id != job_id:
                        continue
                    if event.kind == READY_EVENT or (event.state is not None and event.state.terminal):
                        return _Start.READY
                    if not taken and event.state in (JobState.ASSIGNED, JobState.RUNNING):
                        taken = True
                        deadline.reschedule(loop.time() + self.policy.start_timeout_s)
        return _Start.SLOW if taken else _Start.QUEUED

    async def _route(self, region: str | None) -> Route:
        """A region names a node group: when a live node carries that region label, only such
        nodes run the session; when none does, any node may (the region is still recorded)."""
        if region is None:
            return Route()
        nodes = await self.dispatcher.registry.nodes()
        if any(node.labels.region == region for node in nodes):
            return Route(RouteKind.REGION, region)
        return Route()

    async def get(self, project: ProjectRecord, session_id: str) -> SessionView:
        return await self._view(project, session_id)

    async def list(
        self, project: ProjectRecord, *, status: SessionStatus | None = None, q: str | None = None
    ) -> list[SessionView]:
        clauses = parse_metadata_query(q) if q else []
        states = tuple(_STATES_FOR[status]) if status else ()
        # the store narrows the candidates (metadata that may match); each one is decided here
        candidates = JobFilter(states=states, metadata=tuple((tuple(k), v) for k, v in clauses))
        views = []
        for job in await self.store.jobs_matching(project.id, JobKind.SESSION, candidates, limit=LIST_LIMIT):
            view = SessionView(job, SessionSpec.model_validate(job.spec))
            if status is not None and view.status is not status:
                continue
            if clauses and not metadata_matches(view.spec.user_metadata, clauses):
                continue
            views.append(view)
        return views

    async def page(
        self,
        project: ProjectRecord,
        *,
        status: SessionStatus | None = None,
        q: str | None = None,
        offset: int,
        limit: int,
    ) -> tuple[builtins.list[SessionView], int]:
        """A page of :meth:`list` (newest first) and how many match in all (of the newest
        :data:`LIST_LIMIT` when ``q`` filters on metadata, as :meth:`list` reads them)."""
        filters = _status_filter(status)
        if q:  # metadata: matched here on each candidate's spec, then the page's rows read
            clauses = parse_metadata_query(q)
            narrowed = replace(filters, metadata=tuple((tuple(k), v) for k, v in clauses))
            specs = await self.store.job_specs(project.id, JobKind.SESSION, narrowed, limit=LIST_LIMIT)
            ids = [i for i, spec in specs if metadata_matches(spec.get("user_metadata"), clauses)]
            rows = await self.store.get_jobs(ids[offset : offset + limit])
            jobs = [rows[i] for i in ids[offset : offset + limit] if i in rows]
            return [SessionView(job, SessionSpec.model_validate(job.spec)) for job in jobs], len(ids)
        found = await self.store.page_jobs(project.id, JobKind.SESSION, filters, offset=offset, limit=limit)
        return [SessionView(job, SessionSpec.model_validate(job.spec)) for job in found.jobs], found.total

    async def release(self, project: ProjectRecord, session_id: str) -> SessionView:
        """End the session (idempotent); waits a little for the node to close the browser."""
        view = await self._view(project, session_id)
        if view.job.state.terminal:
            return view
        subscription = self.dispatcher.subscribe([session_id])
        try:
            if view.job.state is JobState.QUEUED and await self.dispatcher.withdraw(session_id):
                await self._cancel_queued(view.job)
            else:
                await self.dispatcher.publish(JobEvent(session_id, project.id, kind=RELEASE_EVENT))
                await self._until(subscription, session_id, self.policy.release_wait_s, ready=False)
        finally:
            await subscription.close()
        return await self._view(project, session_id)

    async def _cancel_queued(self, job: JobRecord) -> None:
        outcome = JobOutcome(
            JobState.CANCELLED,
            result={"browserMinutes": 0.0, "proxyBytes": 0},
            error_code=ErrorCode.CANCELLED.value,
            error_message="Released before a node started it",
        )
        await finish(self.store, self.dispatcher, job.id, outcome)

    async def _until(self, subscription: Subscription, job_id: str, timeout_s: float, *, ready: bool) -> bool:
        """Wait for the job's ``ready`` event (``ready=True``) or a terminal state; True if seen."""
        job = await self.store.get_job(job_id)
        if job is not None and job.state.terminal:
            return True
        return await wait_for(subscription, job_id, timeout_s, event_kind=READY_EVENT if ready else None)

    async def _view(self, project: ProjectRecord, session_id: str) -> SessionView:
        job = await self.store.get_job(session_id)
        if job is None or job.project_id != project.id or job.kind is not JobKind.SESSION:
            raise NotFound(f"Session {session_id} not found")
        spec = SessionSpec.model_validate(job.spec)
        key = None if job.state.terminal else self.secrets.open_key(job.id, spec.signing_key)
        return SessionView(job, spec, key)
