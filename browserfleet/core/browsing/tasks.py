"""The browsing task service: create tasks (one job per attempt), read and wait for them, serve
their screenshots.

A task's status is derived from its attempts (one, or ``fanout`` of them)::

    any attempt completed                 → completed  (that attempt's result is the task's)
    every attempt ended, none completed   → failed     (the first failed attempt's error)
    else any running / any assigned       → running / assigned
    else                                  → queued

Ids: the task id is the first attempt's job id (``brw_…``), the others are ``<task id>-2`` … A
task belongs to its project: another project's id is a 404, as an unknown id (nothing tells a
caller that an id exists elsewhere).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from browserfleet.core.accounts import new_id
from browserfleet.core.admission import Admission
from browserfleet.core.browsing.llm import NOT_CONFIGURED
from browserfleet.core.browsing.routing import plan_routes
from browserfleet.core.browsing.spec import GUARD_S, AgentSpec, BrowsingRequest
from browserfleet.core.browsing.templates import TemplateBook
from browserfleet.core.errors import NotFound, Unavailable
from browserfleet.core.jobs import JobKind, JobState, Route
from browserfleet.core.lifecycle import wait_for_any
from browserfleet.dispatch.base import Dispatcher, JobEvent, Ticket
from browserfleet.store.blobs import BlobStore
from browserfleet.store.records import JobRecord, ProjectRecord
from browserfleet.store.repo import Store
from browserfleet.store.repo.listing import JobFilter, JobPage


@dataclass(frozen=True)
class BrowsingPolicy:
    llm_configured: bool = False
    default_timeout_s: float = 600.0
    sync_wait_s: float = 600.0
    keep_blobs_days: float = 5.0


@dataclass(frozen=True)
class TaskView:
    task_id: str
    attempts: list[JobRecord]

    @property
    def status(self) -> str:
        states = {job.state for job in self.attempts}
        if JobState.COMPLETED in states:
            return "completed"
        if all(state.terminal for state in states):
            return "failed"
        for state in (JobState.RUNNING, JobState.ASSIGNED):
            if state in states:
                return state.value
        return JobState.QUEUED.value

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed")

    @property
    def settled(self) -> bool:
        """Every attempt has ended (a fanout's cancelled siblings too): its answers stay as they are."""
        return all(job.state.terminal for job in self.attempts)

    @property
    def outcome(self) -> JobRecord | None:
        """The attempt whose result is the task's (None while the task runs)."""
        if not self.finished:
            return None
        for wanted in (JobState.COMPLETED, JobState.FAILED):
            for job in self.attempts:
                if job.state is wanted:
                    return job
        return self.attempts[0]

    @property
    def result(self) -> dict[str, Any]:
        outcome = self.outcome
        return dict(outcome.result or {}) if outcome is not None else {}


class BrowsingTasks:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        dispatcher: Dispatcher,
        admission: Admission,
        templates: TemplateBook,
        policy: BrowsingPolicy,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.dispatcher = dispatcher
        self.admission = admission
        self.templates = templates
        self.policy = policy

    async def create(self, project: ProjectRecord, request: BrowsingRequest) -> TaskView:
        # the caller's mistakes first (template, filter, fanout), then what the operator must set
        template = self.templates.get(request.template)
        routes = await plan_routes(self.dispatcher.registry, self.store, project, request)
        if not self.policy.llm_configured:
            raise Unavailable(NOT_CONFIGURED)
        task_id = new_id("brw")
        ids = [task_id, *(f"{task_id}-{n}" for n in range(2, len(routes) + 1))]
        timeout_s = request.timeout_s or self.policy.default_timeout_s
        specs = [
            AgentSpec(
                task_id=task_id,
                attempt=n,
                attempt_ids=ids,
                task=request.task,
                template=template,
                screenshots=request.screenshots,
                session_key=request.session_key,
                result_schema=request.result_schema,
                task_timeout_s=timeout_s,
                timeout_s=timeout_s + GUARD_S,
            )
            for n in range(len(ids))
        ]
        async with self.admission.admit(project, JobKind.AGENT):
            jobs = [
                await self._insert(project, spec, route) for spec, route in zip(specs, routes, strict=True)
            ]
        for job in jobs:
            await self.dispatcher.publish(JobEvent(job.id, project.id, job.state))
            await self.dispatcher.submit(Ticket(job.id, project.id, job.kind, job.route))
        return TaskView(task_id, jobs)

    async def _insert(self, project: ProjectRecord, spec: AgentSpec, route: Route) -> JobRecord:
        job_id = spec.attempt_ids[spec.attempt]
        return await self.store.insert_job(
            job_id=job_id,
            project_id=project.id,
            kind=JobKind.AGENT,
            route=route,
            spec=spec.model_dump(mode="json"),
            keep_blobs_days=self.policy.keep_blobs_days,
        )

    async def view(self, project: ProjectRecord, task_id: str) -> TaskView:
        lead = await self.store.get_job(task_id)
        if (
            lead is None
            or lead.project_id != project.id
            or lead.kind is not JobKind.AGENT
            or lead.spec.get("task_id") != lead.id
        ):
            raise NotFound("Task not found")
        # every attempt in one read: a win finishes it and cancels its siblings in one transaction
        ids = [lead.id, *(str(i) for i in lead.spec.get("attempt_ids", [])[1:])]
        found = await self.store.get_jobs(ids)
        return TaskView(task_id, [found.get(lead.id, lead), *(found[i] for i in ids[1:] if i in found)])

    async def page(self, project: ProjectRecord, *, offset: int, limit: int) -> JobPage:
        """A page of the project's tasks (each its first attempt's job), newest first."""
        filters = JobFilter(lead_only=True)
        return await self.store.page_jobs(project.id, JobKind.AGENT, filters, offset=offset, limit=limit)

    async def wait(self, project: ProjectRecord, task_id: str, timeout_s: float) -> TaskView:
        """The task once finished, or as it stands after ``timeout_s``."""
        view = await self.view(project, task_id)  # its attempts, whose events the wait wants
        if view.finished or timeout_s <= 0:
            return view
        subscription = self.dispatcher.subscribe(_ids(view))
        try:
            view = await self.view(project, task_id)  # again: nothing ended unseen before it
            deadline = time.monotonic() + timeout_s
            while not view.finished:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not await wait_for_any(subscription, _ids(view), remaining):
                    break
                view = await self.view(project, task_id)
        finally:
            await subscription.close()
        return view

    async def screenshot(self, project: ProjectRecord, task_id: str, name: str) -> bytes:
        view = await self.view(project, task_id)
        job = view.outcome
        if job is None or job.blobs_purged or name not in view.result.get("screenshots", ()):
            raise NotFound("Screenshot not found")
        data = await self.blobs.get(job.id, name)
        if data is None:
            raise NotFound("Screenshot not found")
        return data


def _ids(view: TaskView) -> set[str]:
    return {job.id for job in view.attempts}
