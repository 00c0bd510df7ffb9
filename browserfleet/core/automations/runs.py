"""Runs: a run of a task is a job of kind ``steps`` (one state machine with renders and the rest).

Creating a run merges the per-run overrides over the task's steps, plans it (translation into the
action vocabulary), checks the project's monthly quota (402) and queues the job; the node's
automation executor (node/automation.py) runs it. Run status is derived from the job state
(core/automations/wire.py: ``RUN_STATUS``).

**Run-finished hook**: :meth:`Runs.add_finished_hook` registers a coroutine called with every run
that reaches a terminal state (finished, failed, cancelled), from :meth:`Runs.watch` — the loop
the fleet runs over the dispatcher's job events. Webhook delivery plugs in here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from browserfleet.core.accounts import new_id
from browserfleet.core.admission import LocalProjectLocks, ProjectLocks
from browserfleet.core.automations.steps import apply_overrides, plan_run
from browserfleet.core.automations.tasks import PAGE_SIZE, Tasks, page_offset
from browserfleet.core.background import Background
from browserfleet.core.backpressure import Backpressure
from browserfleet.core.errors import NotFound, PaymentRequired
from browserfleet.core.jobs import JobKind, utcnow
from browserfleet.core.lifecycle import wait_for
from browserfleet.dispatch.base import STATE_EVENT, Dispatcher, Ticket
from browserfleet.store.records import JobRecord, ProjectRecord, TaskRunRecord
from browserfleet.store.repo import Store

if TYPE_CHECKING:
    from browserfleet.settings import Settings

log = structlog.get_logger(__name__)
RunHook = Callable[[TaskRunRecord], Awaitable[None]]


@dataclass(frozen=True)
class RunPolicy:
    default_quota: int = 36_000  # runs per month of a project without a quota of its own
    timeout_s: float = 300.0
    file_retention: timedelta = timedelta(days=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> RunPolicy:
        s = settings
        return cls(
            default_quota=s.automation_default_quota,
            timeout_s=s.automation_run_timeout_s,
            file_retention=timedelta(days=s.automation_file_retention_days),
        )


@dataclass(frozen=True)
class Usage:
    api_usage: int  # runs created this month (UTC)
    api_quota: int


@dataclass(frozen=True)
class RunRequest:
    overrides: list[dict[str, Any]]
    webhook_url: str | None = None
    metadata: Any = None


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class Runs:
    def __init__(
        self,
        store: Store,
        dispatcher: Dispatcher,
        tasks: Tasks,
        policy: RunPolicy,
        *,
        locks: ProjectLocks | None = None,
        backpressure: Backpressure | None = None,
    ) -> None:
        """``locks``: the per-project quota lock (a Redis lock when distributed);
        ``backpressure``: the fleet's queue bound (429 past it)."""
        self.backpressure = backpressure
        self.store = store
        self.dispatcher = dispatcher
        self.tasks = tasks
        self.policy = policy
        self._locks = locks or LocalProjectLocks()
        self._hooks: list[RunHook] = []
        self._watcher = Background("run-hooks", self.watch)

    async def usage(self, project: ProjectRecord) -> Usage:
        used = await self.store.count_jobs_since(project.id, JobKind.STEPS, month_start(utcnow()))
        quota = project.monthly_quota if project.monthly_quota is not None else self.policy.default_quota
        return Usage(api_usage=used, api_quota=quota)

    async def create(self, project: ProjectRecord, task_uid: str, request: RunRequest) -> TaskRunRecord:
        task = await self.tasks.get(project, task_uid)
        steps = apply_overrides(task.steps, request.overrides)
        plan = plan_run(steps, task.viewport_width, task.viewport_height)
        spec = {
            "timeout_s": self.policy.timeout_s,
            "task": task.id,
            "steps": steps,
            "plan": plan.model_dump(mode="json"),
        }
        if self.backpressure is not None:
            await self.backpressure.check_queue()
        # check-and-insert under the project's lock: two requests cannot both take the last run
        async with self._locks.hold(project.id):
            usage = await self.usage(project)
            if usage.api_usage >= usage.api_quota:
                raise PaymentRequired(f"Monthly quota of {usage.api_quota} runs used up")
            run = await self.store.insert_task_run(
                job_id=new_id("run"),
                project_id=project.id,
                task_id=task.id,
                spec=spec,
                webhook_url=request.webhook_url,
                metadata=request.metadata,
                keep_blobs_days=self.policy.file_retention.total_seconds() / 86400,
            )
        job = run.job
        await self.dispatcher.submit(Ticket(job.id, job.project_id, job.kind, job.route))
        return run

    async def get(self, project: ProjectRecord, task_uid: str, run_uid: str) -> TaskRunRecord:
        run = await self.store.get_task_run(run_uid)
        if run is None or run.job.project_id != project.id or run.task_id != task_uid:
            raise NotFound("Run not found")
        return run

    async def wait(
        self, project: ProjectRecord, task_uid: str, run_uid: str, timeout_s: float
    ) -> TaskRunRecord:
        """Like :meth:`get`, but first waits up to ``timeout_s`` for the run to end."""
        subscription = self.dispatcher.subscribe([run_uid])
        try:
            run = await self.get(project, task_uid, run_uid)
            if not run.job.state.terminal and timeout_s > 0:
                await wait_for(subscription, run_uid, timeout_s)
        finally:
            await subscription.close()
        return await self.get(project, task_uid, run_uid)

    async def list(self, project: ProjectRecord, task_uid: str, page: int) -> list[TaskRunRecord]:
        task = await self.tasks.get(project, task_uid)
        return await self.store.task_runs(task.id, offset=page_offset(page), limit=PAGE_SIZE)

    # --- the run-finished hook ----------------------------------------------------------------
    def add_finished_hook(self, hook: RunHook) -> None:
        """Call ``hook`` with every run that reaches a terminal state (while :meth:`watch` runs)."""
        self._hooks.append(hook)

    def start(self) -> None:
        """Start relaying finished runs to the hooks (:meth:`watch`, until :meth:`stop`)."""
        self._watcher.start()

    async def stop(self) -> None:
        await self._watcher.stop()

    async def watch(self) -> None:
        """Relay terminal job events of runs to the hooks; runs until cancelled."""
        subscription = self.dispatcher.subscribe(kinds={STATE_EVENT})
        try:
            async for event in subscription:
                if event.state is None or not event.state.terminal or not self._hooks:
                    continue
                known = event.record
                if isinstance(known, JobRecord) and known.kind is not JobKind.STEPS:
                    continue  # a job of this process that is no run: nothing to read
                run = await self.store.get_task_run(event.job_id)
                if run is not None:
                    await self._call_hooks(run)
        finally:
            await subscription.close()

    async def _call_hooks(self, run: TaskRunRecord) -> None:
        for hook in self._hooks:
            try:
                await hook(run)
            except Exception:
                log.exception("automations.hook_failed", run=run.job.id)
