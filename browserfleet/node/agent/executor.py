"""The agent executor: runs one browsing attempt (a job of kind ``agent``) with the agent loop.

Per job: the model provider for the template's model (none configured → ``LLM_NOT_CONFIGURED``
at once) → a browser: a fresh pooled context behind the job's egress channel, or the
``session_key``'s kept session (sessions.py) → the job moves to ``running`` (``on_running``: the
job sat ``assigned`` while the browser was prepared) → the loop (loop.py) under the task's
timeout (``TASK_TIMEOUT``) → the final screenshot → the result: ``success``, ``payload`` and the
``info`` (steps with their actions, screenshots, timings, token usage), with the screenshots as
blobs. A failure keeps the same result and blobs (``JobFailure.result``/``blobs``).

Cancellation (a fan-out sibling won, or the node stops) unwinds the ``async with`` blocks: the
context is closed and the egress channel released; a kept session stays for its next task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError

from browserfleet.core.browsing.llm import LLMError, LLMProvider, ToolChoice, build_provider
from browserfleet.core.browsing.spec import AgentSpec
from browserfleet.core.errors import BrowserCrashed, ErrorCode, JobFailure
from browserfleet.core.jobs import JobKind
from browserfleet.node import captcha
from browserfleet.node.agent.loop import Agent, AgentStopped
from browserfleet.node.agent.page_state import PENDING_REQUESTS
from browserfleet.node.agent.screenshots import ScreenshotTaker
from browserfleet.node.agent.sessions import AgentSessions, Lease
from browserfleet.node.egress import EgressChannel, EgressProxy
from browserfleet.node.executor import Execution, Executor
from browserfleet.node.pool import BrowserPool
from browserfleet.node.steps import StepRunner
from browserfleet.store.records import JobRecord

if TYPE_CHECKING:  # settings import the core, not the other way round
    from browserfleet.node.parts import NodeParts
    from browserfleet.settings import Settings

VIEWPORT = {"width": 1280, "height": 720}
ProviderFactory = Callable[[str | None], LLMProvider]  # model override → provider (or LLMNotConfigured)
OnRunning = Callable[[str], Awaitable[bool]]  # False: the job is no longer assigned


class AgentExecutor(Executor):
    kind = JobKind.AGENT
    staged: ClassVar[bool] = True  # claimed as ``assigned``; ``on_running`` marks it running

    def __init__(
        self,
        pool: BrowserPool,
        egress: EgressProxy,
        providers: ProviderFactory,
        sessions: AgentSessions,
        *,
        on_running: OnRunning | None = None,
        tool_choice: ToolChoice | None = "required",
        captcha_solver: captcha.CaptchaSolver | None = None,
    ) -> None:
        self.pool = pool
        self.egress = egress
        self.providers = providers
        self.sessions = sessions
        self.on_running = on_running
        self.tool_choice = tool_choice
        self.captcha_solver = captcha_solver

    @classmethod
    def from_settings(cls, settings: Settings, parts: NodeParts) -> AgentExecutor:
        """The model provider is built per task (a template may name its own model); without
        ``llm_base_url``/``llm_model`` tasks fail with ``LLM_NOT_CONFIGURED``."""
        return cls(
            parts.pool,
            parts.egress,
            lambda model: build_provider(settings, model=model),
            AgentSessions(settings.browsing_session_idle_s),
            on_running=parts.on_running,
            tool_choice=settings.llm_tool_choice,
            captcha_solver=captcha.build_solver(settings),
        )

    async def close(self) -> None:
        """Close the kept sessions (before the pool closes)."""
        await self.sessions.close()

    async def run(self, job: JobRecord) -> Execution:
        spec = AgentSpec.model_validate(job.spec)
        try:
            provider = self.providers(spec.template.model)
        except LLMError as exc:
            raise JobFailure(exc.code, exc.message) from exc
        async with provider, self._browser(job, spec) as lease:
            if self.on_running is not None and not await self.on_running(job.id):
                raise JobFailure(ErrorCode.CANCELLED, "The task was cancelled before it started")
            runner = StepRunner(lease.page, captcha_solver=self.captcha_solver)
            shots = ScreenshotTaker(spec.screenshot_policy, runner)
            agent = Agent(
                spec,
                provider,
                runner,
                shots,
                check_navigation=lease.check_navigation,
                tool_choice=self.tool_choice,
            )
            try:
                failure = await self._drive(agent, spec, lease)
            finally:
                lease.page = runner.page
            await shots.final()
        result = _result(job, agent, shots, success=failure is None)
        if failure is not None:
            raise JobFailure(failure.code, failure.message, result=result, blobs=shots.blobs)
        return Execution(result=result, blobs=shots.blobs, billable=True)

    async def _drive(self, agent: Agent, spec: AgentSpec, lease: Lease) -> JobFailure | None:
        """Run the loop under the task's timeout; the failure that ended it, or None."""
        try:
            async with asyncio.timeout(spec.task_timeout_s):
                await agent.run()
        except AgentStopped as stopped:
            return JobFailure(stopped.code, stopped.message)
        except LLMError as exc:
            return JobFailure(exc.code, exc.message)
        except TimeoutError:
            return JobFailure(
                ErrorCode.TASK_TIMEOUT, f"The task exceeded its {spec.task_timeout_s:g} s timeout"
            )
        except PlaywrightError as exc:  # outside an action (reading the page state)
            browser = lease.page.context.browser
            if browser is None or not browser.is_connected():
                raise BrowserCrashed(str(exc)) from exc
            return JobFailure(ErrorCode.INTERNAL_ERROR, f"browser error: {str(exc).splitlines()[0][:300]}")
        return None

    def _browser(self, job: JobRecord, spec: AgentSpec) -> contextlib.AbstractAsyncContextManager[Lease]:
        if spec.session_key is None:
            return self._fresh(job)
        key = f"{job.project_id}:{spec.session_key}"
        return self.sessions.lease(key, lambda stack: self._open(job, stack))

    @contextlib.asynccontextmanager
    async def _fresh(self, job: JobRecord) -> AsyncIterator[Lease]:
        async with contextlib.AsyncExitStack() as stack:
            yield await self._open(job, stack)

    async def _open(self, job: JobRecord, stack: contextlib.AsyncExitStack) -> Lease:
        """A browser context behind a new egress channel, both closed with ``stack``."""
        channel = await self.egress.open_channel(job.id)
        stack.push_async_callback(channel.close)
        options: dict[str, Any] = {
            "proxy": {"server": channel.server_url},
            "viewport": VIEWPORT,
            "service_workers": "block",
        }
        context = await stack.enter_async_context(self.pool.context(egress=channel, **options))
        try:
            await context.add_init_script(script=PENDING_REQUESTS)
            page = await context.new_page()
        except PlaywrightError as exc:
            if self.pool.crashed(context):
                raise BrowserCrashed(str(exc)) from exc
            raise
        return Lease(page, _navigation_check(channel))


def _navigation_check(channel: EgressChannel) -> Callable[[str], str | None]:
    def refused(url: str) -> str | None:
        host = urlsplit(url).hostname or ""
        attempt = channel.blocked_host(host)
        if attempt is None:
            return None
        where = f"{host} ({attempt.ip})" if attempt.ip and attempt.ip != host else host
        return f"egress to {where} is blocked by the egress policy"

    return refused


def _result(job: JobRecord, agent: Agent, shots: ScreenshotTaker, *, success: bool) -> dict[str, Any]:
    return {
        "success": success,
        "payload": agent.payload,
        "node_id": job.node_id,
        "attempt": job.spec.get("attempt", 0),
        "screenshots": shots.names,
        **agent.report(),
    }
