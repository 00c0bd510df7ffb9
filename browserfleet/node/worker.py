"""A node: feeders that claim jobs while their gate has room, and run each with its executor.

Each group of job kinds (renders, runs and tasks together; live sessions; fetches) has one feeder
and one :class:`~browserfleet.node.capacity.Gate`: a fixed count of slots, and with a budget
(node/capacity/) the node's room now — memory for sessions, CPU for the rest, nothing new below
the memory floor. What waits for room stays queued for any node that has it.

Per job: claim a ticket → ``assigned`` + ``running`` → executor → blobs stored → ``completed``
or ``failed`` (charged in the same transaction when billable) → event published. A crashed
browser requeues the job (up to ``max_attempts``); the overall timeout fails it with
``RENDER_TIMEOUT``; anything unexpected fails it with ``INTERNAL_ERROR`` — never left running.
A ``cancel`` event for a job of this node cancels its executor (``cancelled``); a fanned-out
attempt ends through core/fanout.py (a win cancels its siblings). A *staged* executor (the agent)
gets its job ``assigned`` and marks it ``running`` itself once its browser is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from browserfleet.core.errors import BrowserCrashed, ErrorCode, JobFailure
from browserfleet.core.fanout import CANCEL_EVENT, settle
from browserfleet.core.jobs import JobKind, JobState, NodeLabels
from browserfleet.core.load import NodeLoad
from browserfleet.dispatch.base import Dispatcher, JobEvent, NodeInfo, Ticket
from browserfleet.node.capacity import Gate, NodeBudget
from browserfleet.node.executor import Execution, Executor
from browserfleet.store.blobs import BlobStore
from browserfleet.store.records import JobOutcome, JobRecord
from browserfleet.store.repo import Store

if TYPE_CHECKING:
    from browserfleet.settings import Settings

log = structlog.get_logger(__name__)
HEARTBEAT_S = 5.0

JobObserver = Callable[[JobRecord, float], None]


class Node:
    def __init__(
        self,
        labels: NodeLabels,
        slots: int,
        *,
        store: Store,
        blobs: BlobStore,
        dispatcher: Dispatcher,
        executors: dict[JobKind, Executor],
        max_attempts: int = 2,
        version: str = "",
        on_finished: JobObserver | None = None,
        kind_slots: dict[JobKind, int] | None = None,
        advertised_url: str | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        budget: NodeBudget | None = None,
    ) -> None:
        """``slots`` jobs at once of every kind in ``executors`` except those of ``kind_slots``,
        which have their own (a live session holds its slot for minutes; it must not starve
        renders). ``budget``: the process's capacity budget (node/capacity/), which the gates
        consult and the heartbeats report. ``advertised_url``: where the control plane reaches
        this node's live sessions (distributed mode)."""
        self.labels = labels
        self.slots = slots
        self.store = store
        self.blobs = blobs
        self.dispatcher = dispatcher
        self.executors = executors
        self.max_attempts = max_attempts
        self.version = version
        self.on_finished = on_finished
        self.kind_slots = dict(kind_slots or {})
        self.advertised_url = advertised_url
        self.heartbeat_s = heartbeat_s
        self.budget = budget
        self.in_use = 0
        self.running: dict[JobKind, int] = {}
        self.gates = self._gates()
        self._tasks: list[asyncio.Task[None]] = []
        self._jobs: set[asyncio.Task[None]] = set()
        self._beat: asyncio.Task[None] | None = None
        self._announced: tuple[bool, bool] | None = None  # what the last heartbeat said (_gist)
        self._claimed: set[str] = set()  # jobs of this node's slots (a cancel event may name one)
        self._running: dict[str, asyncio.Task[Execution]] = {}
        self._cancel_requested: set[str] = set()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        executors: dict[JobKind, Executor],
        budget: NodeBudget | None = None,
        **shared: Any,
    ) -> Node:
        """The process's main node as the settings label and size it (explicit slots, else the
        ``budget``'s); ``shared``: store, blobs, dispatcher, version, on_finished (what every node
        of the process shares)."""
        s = settings
        kind_slots = {JobKind.FETCH: s.fetch_slots}
        if JobKind.SESSION in executors:
            kind_slots[JobKind.SESSION] = budget.session_cap if budget else s.session_slots or 4
        return cls(
            NodeLabels(node_id=s.node_id, region=s.node_region, country=s.node_country, city=s.node_city),
            budget.cpu_slots if budget else s.node_slots or 4,
            budget=budget,
            executors=executors,
            max_attempts=s.max_attempts,
            advertised_url=s.advertised_url if s.distributed else None,
            heartbeat_s=min(5.0, s.node_ttl_s / 3),
            kind_slots=kind_slots,
            **shared,
        )

    @property
    def info(self) -> NodeInfo:
        return NodeInfo(
            labels=self.labels,
            slots=self.slots,
            in_use=self.in_use,
            version=self.version,
            advertised_url=self.advertised_url,
            load=self.load(),
        )

    def load(self) -> NodeLoad | None:
        """What this node reports of its machine and its room (None without a budget)."""
        if self.budget is None:
            return None
        sessions = self.gates.get(frozenset({JobKind.SESSION}))
        return self.budget.report(
            {kind.value: count for kind, count in self.running.items() if count},
            sessions.in_use if sessions else 0,
            runs_sessions=sessions is not None,
        )

    def _gates(self) -> dict[frozenset[JobKind], Gate]:
        """One gate per group of kinds: the general slots, then each kind of ``kind_slots``."""
        general = frozenset(self.executors) - frozenset(self.kind_slots)
        groups = {general: self.slots, **{frozenset({k}): n for k, n in self.kind_slots.items()}}
        gates: dict[frozenset[JobKind], Gate] = {}
        for kinds, count in groups.items():
            if not kinds or count <= 0 or not kinds & frozenset(self.executors):
                continue
            gates[kinds] = Gate(count, self._refusal(kinds))
        return gates

    def _refusal(self, kinds: frozenset[JobKind]) -> Callable[[int], str | None] | None:
        budget = self.budget
        if budget is None:
            return None
        if kinds == {JobKind.SESSION}:
            return budget.session_refusal
        if kinds == {JobKind.FETCH}:
            return lambda _running: budget.floor_reason()
        return budget.cpu_refusal

    async def start(self) -> None:
        await self.dispatcher.registry.heartbeat(self.info)
        self._tasks = [
            asyncio.create_task(self._feed(kinds, gate), name=f"feed-{'+'.join(sorted(kinds))}")
            for kinds, gate in self.gates.items()
        ]
        self._tasks.append(asyncio.create_task(self._heartbeat(), name="heartbeat"))
        self._tasks.append(asyncio.create_task(self._watch_cancels(), name="cancels"))

    async def stop(self) -> None:
        """Stop at once; jobs still running stay ``running`` in the store and are requeued at the
        next start (core/recovery.py)."""
        tasks = [*self._tasks, *self._jobs, *([self._beat] if self._beat else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._jobs.clear()
        await self.dispatcher.registry.remove(self.labels.node_id)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await self.dispatcher.registry.heartbeat(self.info)

    def announce(self) -> None:
        """Heartbeat soon (coalesced): the node's room changed, e.g. a session started or ended,
        and the control plane decides fast 429s from the registry's figures."""
        if self._beat is None or self._beat.done():
            self._beat = asyncio.create_task(self._announce_load(), name="heartbeat-now")

    async def _announce_load(self) -> None:
        await asyncio.sleep(0)
        info = self.info
        self._announced = _gist(info.load)
        await self.dispatcher.registry.heartbeat(info)

    def tick(self) -> None:
        """The budget's figures moved (node/capacity/monitor.py): let waiting gates look again,
        and heartbeat at once if whether the node takes work or sessions changed."""
        for gate in self.gates.values():
            gate.nudge()
        if self.budget is not None and _gist(self.load()) != self._announced:
            self.announce()

    async def _feed(self, kinds: frozenset[JobKind], gate: Gate) -> None:
        """Claim one ticket of ``kinds`` whenever ``gate`` has room, and run it in a task."""
        sessions = kinds == {JobKind.SESSION}
        while True:
            await gate.room()
            ticket = await self.dispatcher.claim(self.labels, kinds)
            gate.take()
            if sessions and self.budget is not None:
                self.budget.session_admitted()
            job = asyncio.create_task(self._run(ticket, gate), name=f"job-{ticket.job_id}")
            self._jobs.add(job)
            job.add_done_callback(self._jobs.discard)
            if sessions:
                self.announce()

    async def _run(self, ticket: Ticket, gate: Gate) -> None:
        self.in_use += 1
        self.running[ticket.kind] = self.running.get(ticket.kind, 0) + 1
        try:
            await self.process(ticket)
        except Exception:
            log.exception("node.job_crashed", job_id=ticket.job_id)
        finally:
            self.in_use -= 1
            self.running[ticket.kind] -= 1
            gate.release()
            if ticket.kind is JobKind.SESSION:
                self.announce()
        # not when cancelled (the node stops): an unfinished ticket is reclaimed elsewhere
        await self.dispatcher.done(ticket)

    async def process(self, ticket: Ticket) -> None:
        self._claimed.add(ticket.job_id)
        try:
            await self._process(ticket)
        finally:
            self._claimed.discard(ticket.job_id)
            self._cancel_requested.discard(ticket.job_id)

    async def _process(self, ticket: Ticket) -> None:
        claimed = await self._start(ticket)
        if claimed is None:
            return
        job, announced = claimed
        started = time.perf_counter()
        try:
            outcome = await self._execute(job)
        finally:
            await announced  # the job's first event is out before any later one
        if outcome is None:  # requeued after a browser crash
            return
        finished = await settle(self.store, self.dispatcher, job, outcome)
        seconds = time.perf_counter() - started
        log.info(
            "job.finished",
            job_id=job.id,
            kind=job.kind.value,
            state=finished.state.value,
            error_code=finished.error_code,
            attempt=finished.attempts,
            ms=round(seconds * 1000),
        )
        if self.on_finished:
            self.on_finished(finished, seconds)

    async def _start(self, ticket: Ticket) -> tuple[JobRecord, asyncio.Future[None]] | None:
        """Claim the job: ``running`` at once, or ``assigned`` for a staged executor (it marks the
        job running itself once its browser is ready), and announce it. The store has the claim
        before the executor starts; the ``running`` event travels while the executor starts (the
        returned future, awaited before the job's next event). A staged job's ``assigned`` event is
        out before its executor starts: the executor publishes ``running`` itself."""
        executor = self.executors.get(ticket.kind)
        staged = executor is not None and executor.staged
        job = await self.store.claim_job(ticket.job_id, self.labels.node_id, run=not staged)
        if job is None:
            return None
        event = JobEvent(job.id, job.project_id, job.state)
        if staged:
            await self.dispatcher.publish(event)
            announced: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            announced.set_result(None)
            return job, announced
        return job, asyncio.ensure_future(self._announce(event))

    async def _announce(self, event: JobEvent) -> None:
        await asyncio.sleep(0)  # the executor takes its first step first
        await self.dispatcher.publish(event)

    async def _execute(self, job: JobRecord) -> JobOutcome | None:
        timeout_s = float(job.spec.get("timeout_s", 120))
        try:
            async with asyncio.timeout(timeout_s):
                execution = await self._cancellable(job)
        except _Cancelled:
            return _CANCELLED
        except JobFailure as failure:
            return await self._failed_with_blobs(job, failure)
        except BrowserCrashed as exc:
            return await self._after_crash(job, exc)
        except TimeoutError:
            return _failed(ErrorCode.RENDER_TIMEOUT, f"Overall render exceeded {timeout_s:g} second timeout")
        except Exception as exc:
            log.exception("node.executor_error", job_id=job.id)
            return _failed(ErrorCode.INTERNAL_ERROR, f"Internal error: {type(exc).__name__}")
        return await self._completed(job, execution)

    async def _cancellable(self, job: JobRecord) -> Execution:
        """The executor in a task of its own, so a ``cancel`` event stops just this job (its
        executor releases the browser as it unwinds)."""
        if job.id in self._cancel_requested:
            raise _Cancelled
        run = asyncio.ensure_future(self.executors[job.kind].run(job))
        self._running[job.id] = run
        try:
            return await run
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if job.id in self._cancel_requested and not (current and current.cancelling()):
                raise _Cancelled from None
            raise
        finally:
            self._running.pop(job.id, None)
            self._cancel_requested.discard(job.id)

    async def _watch_cancels(self) -> None:
        """Cancel requests (core/fanout.py) travel as dispatcher events; act on this node's jobs."""
        subscription = self.dispatcher.subscribe(kinds={CANCEL_EVENT})
        try:
            async for event in subscription:
                if event.job_id in self._claimed:
                    self._cancel_requested.add(event.job_id)
                    if (run := self._running.get(event.job_id)) is not None:
                        run.cancel()
        finally:
            await subscription.close()

    async def _after_crash(self, job: JobRecord, exc: BrowserCrashed) -> JobOutcome | None:
        log.warning("node.browser_crashed", job_id=job.id, attempt=job.attempts, error=str(exc)[:200])
        if job.attempts >= self.max_attempts:
            return _failed(ErrorCode.BROWSER_CRASHED, f"The browser crashed {job.attempts} times")
        await self.store.move_job(job.id, JobState.QUEUED, node_id=None)
        await self.dispatcher.submit(Ticket(job.id, job.project_id, job.kind, job.route))
        return None

    async def _failed_with_blobs(self, job: JobRecord, failure: JobFailure) -> JobOutcome:
        """A failure that kept files (an automation run's outputs so far) stores them first."""
        result = failure.result
        if failure.blobs:
            for name, data in failure.blobs.items():
                await self.blobs.put(job.id, name, data)
            result = {**(result or {}), "blobs": sorted(failure.blobs)}
        return _failed(failure.code, failure.message, result)

    async def _completed(self, job: JobRecord, execution: Execution) -> JobOutcome:
        for name, data in execution.blobs.items():
            await self.blobs.put(job.id, name, data)
        result = dict(execution.result)
        result["blobs"] = sorted(execution.blobs)
        return JobOutcome(state=JobState.COMPLETED, result=result, billable=execution.billable)


def _gist(load: NodeLoad | None) -> tuple[bool, bool] | None:
    """Whether a node takes work, and sessions: a change is announced at once."""
    return None if load is None else (load.accepting, load.session_room > 0)


_CANCELLED = JobOutcome(JobState.CANCELLED, error_code=ErrorCode.CANCELLED.value, error_message="Cancelled")


class _Cancelled(Exception):
    """The job was cancelled on request (a ``cancel`` event), not by the node stopping."""


def _failed(code: ErrorCode, message: str, result: dict[str, Any] | None = None) -> JobOutcome:
    return JobOutcome(
        state=JobState.FAILED,
        result=result,
        error_code=code.value,
        error_message=message,
        billable=code.billable,
    )
