"""The agent loop: observe the page, ask the model, run its tool calls, until it calls ``done``.

One step: page state (page_state.py, one evaluate) → the model's answer, parsed into tool calls
with one repair retry (core/browsing/llm/structured.py, core/browsing/tools.py) → each call's actions on
the one step runner (node/steps.py) → a tool result per call → the step's screenshot. Limits,
each ending the task with its own error code:

* ``max_steps`` steps without ``done`` → ``AGENT_STEP_LIMIT``;
* the failure budget: ``max_failures`` steps in a row whose actions all failed → ``AGENT_STUCK``
  (a failed action is not fatal by itself: the model reads the error and tries something else);
* loop detection: the same call(s) on an unchanged page — after 3 repeats the model is told so,
  after ``loop_limit`` repeats → ``AGENT_STUCK``;
* ``done`` with ``success: false`` → ``AGENT_GAVE_UP`` (its ``result`` is still the payload).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError

from browserfleet.core import actions as a
from browserfleet.core.browsing.llm import (
    ChatRequest,
    ChatResponse,
    Image,
    LLMProvider,
    ToolChoice,
    chat_parsed,
)
from browserfleet.core.browsing.spec import AgentSpec
from browserfleet.core.browsing.tools import DoneArgs, PlannedCall, ToolLimits, plan, specs
from browserfleet.core.errors import BrowserCrashed, ErrorCode, JobFailure
from browserfleet.node.agent.page_state import PageState, observe, render, settle
from browserfleet.node.agent.prompt import Conversation
from browserfleet.node.agent.screenshots import ScreenshotTaker
from browserfleet.node.steps import StepRunner

NUDGE_AFTER = 3
MAX_OUTPUT_CHARS = 5000

NavigationCheck = Callable[[str], "str | None"]


class AgentStopped(Exception):
    """The agent ended without a successful answer; ``payload`` is what it said, if anything."""

    def __init__(self, code: ErrorCode, message: str, payload: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.payload = payload


@dataclass
class ActionRecord:
    tool: dict[str, Any]
    ok: bool
    error: str | None = None
    output: str | None = None
    ms: int = 0

    def feedback(self) -> str:
        """The tool result the model reads."""
        if not self.ok:
            return f"failed: {self.error}"
        return f"ok: {self.output}" if self.output else "ok"

    def wire(self) -> dict[str, Any]:
        return {**self.tool, "ok": self.ok, "error": self.error, "output": self.output, "ms": self.ms}


@dataclass
class StepRecord:
    step: int
    url: str
    note: str | None = None
    actions: list[ActionRecord] = field(default_factory=list)
    url_after: str = ""
    screenshot: str | None = None
    llm_ms: int = 0
    browser_ms: int = 0
    repaired: bool = False

    def wire(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "url": self.url,
            "url_after": self.url_after,
            "note": self.note,
            "actions": [r.wire() for r in self.actions],
            "screenshot": self.screenshot,
            "llm_ms": self.llm_ms,
            "browser_ms": self.browser_ms,
            "repaired": self.repaired,
        }


class Agent:
    def __init__(
        self,
        spec: AgentSpec,
        provider: LLMProvider,
        runner: StepRunner,
        screenshots: ScreenshotTaker,
        *,
        check_navigation: NavigationCheck,
        tool_choice: ToolChoice | None = "required",
    ) -> None:
        self.spec = spec
        self.template = spec.template
        self.provider = provider
        self.runner = runner
        self.screenshots = screenshots
        self.check_navigation = check_navigation
        self.tool_choice = tool_choice
        self.limits = ToolLimits(action_timeout_ms=self.template.action_timeout_ms)
        self.tools = specs(self.template.allowed_actions)
        self.conversation = Conversation(self.template.instructions, spec.task, spec.result_schema)
        self.steps: list[StepRecord] = []
        self.payload: str | None = None
        self.tokens = {"prompt": 0, "completion": 0}
        self._signature = ""
        self._repeats = 0
        self._failures = 0

    @property
    def vision(self) -> bool:
        return self.template.vision and self.provider.accepts_images

    async def run(self) -> str:
        """The answer of a successful ``done``; :class:`AgentStopped` otherwise."""
        for step in range(1, self.template.max_steps + 1):
            done = await self._step(step)
            if done is not None:
                self.payload = done.result
                if not done.success:
                    raise AgentStopped(ErrorCode.AGENT_GAVE_UP, _gave_up(done.result), done.result)
                return done.result
        raise AgentStopped(
            ErrorCode.AGENT_STEP_LIMIT,
            f"The agent used its {self.template.max_steps} steps (max_steps of template "
            f"{self.template.name!r}) without calling done",
        )

    def report(self) -> dict[str, Any]:
        """What the task's ``info`` shows, also after a failure."""
        return {
            "steps": [s.wire() for s in self.steps],
            "final_url": self.runner.page.url,
            "timings": {
                "llm_ms": sum(s.llm_ms for s in self.steps),
                "browser_ms": sum(s.browser_ms for s in self.steps),
                "steps": len(self.steps),
            },
            "usage": {"prompt_tokens": self.tokens["prompt"], "completion_tokens": self.tokens["completion"]},
            "model": self.template.model or self.provider.model,
            "template": self.template.name,
        }

    # ------------------------------------------------------------------------------- one step
    async def _step(self, step: int) -> DoneArgs | None:
        state = await observe(self.runner.page)
        calls, answer, record = await self._ask(step, state)
        results, done = await self._act(calls, record)
        self.conversation.record(step, state.url, answer, results)
        record.url_after = self.runner.page.url
        record.screenshot = await self.screenshots.after_step(step, state.url, record.url_after)
        self.steps.append(record)
        if done is None:
            self._check_failures(record)
            self._check_loop(calls, state)
        return done

    async def _ask(self, step: int, state: PageState) -> tuple[list[PlannedCall], ChatResponse, StepRecord]:
        text = render(state, step=step, max_steps=self.template.max_steps, notes=self._notes())
        images = (await self._screenshot_for_model(),) if self.vision else ()
        request = ChatRequest(
            messages=self.conversation.messages(text, images),
            tools=self.tools,
            tool_choice=self.tool_choice,
            model=self.template.model,
            temperature=self.template.temperature,
        )
        started = time.perf_counter()
        parsed = await chat_parsed(
            self.provider, request, lambda r: plan(r, self.template.allowed_actions, self.limits)
        )
        self.tokens["prompt"] += parsed.response.usage.prompt_tokens
        self.tokens["completion"] += parsed.response.usage.completion_tokens
        record = StepRecord(step, state.url, note=parsed.response.content, repaired=parsed.repaired)
        record.llm_ms = _ms(started)
        return parsed.value, parsed.response, record

    async def _act(
        self, calls: list[PlannedCall], record: StepRecord
    ) -> tuple[list[tuple[str, str]], DoneArgs | None]:
        """Run the calls in order; a result for every call (skipped ones say why)."""
        results: list[tuple[str, str]] = []
        done: DoneArgs | None = None
        skip: str | None = None
        started = time.perf_counter()
        for n, planned in enumerate(calls):
            if skip is None and n >= self.template.max_actions_per_step:
                skip = f"only {self.template.max_actions_per_step} actions run per step"
            if skip is not None:
                results.append((planned.call.id, f"skipped: {skip}"))
                continue
            if planned.done is not None:
                done, skip = planned.done, "the task is finished"
                record.actions.append(ActionRecord(planned.describe(), ok=True))
                results.append((planned.call.id, "finished"))
                continue
            url, tabs = self.runner.page.url, len(self.runner.page.context.pages)
            outcome = await self._run_one(planned)
            record.actions.append(outcome)
            results.append((planned.call.id, outcome.feedback()))
            if self.runner.page.url != url or len(self.runner.page.context.pages) != tabs:
                skip = "the page changed; look at the new page state first"
        if any(not c.done for c in calls):
            await self._ensure_tab()
            await settle(self.runner.page)
        record.browser_ms = _ms(started)
        return results, done

    async def _run_one(self, planned: PlannedCall) -> ActionRecord:
        started = time.perf_counter()
        tabs = len(self.runner.page.context.pages)
        output: Any = None
        try:
            for action in planned.actions:
                output = await self.runner.run(action)
                if isinstance(action, a.Goto) and (refused := self.check_navigation(action.url)):
                    return ActionRecord(planned.describe(), ok=False, error=refused, ms=_ms(started))
            await self._follow_new_tab(tabs)
        except BrowserCrashed:
            raise
        except JobFailure as exc:
            return ActionRecord(planned.describe(), ok=False, error=exc.message, ms=_ms(started))
        except PlaywrightError as exc:
            browser = self.runner.page.context.browser
            if browser is None or not browser.is_connected():
                raise BrowserCrashed(str(exc)) from exc
            return ActionRecord(planned.describe(), ok=False, error=_first_line(exc), ms=_ms(started))
        return ActionRecord(planned.describe(), ok=True, output=_output_text(output), ms=_ms(started))

    async def _follow_new_tab(self, tabs_before: int) -> None:
        """A click that opened a tab (``target=_blank``) moves the agent to it."""
        pages = self.runner.page.context.pages
        if len(pages) > tabs_before and self.runner.page is not pages[-1]:
            await self.runner.run(a.SwitchTab(index=len(pages) - 1))

    async def _ensure_tab(self) -> None:
        """The agent closed the last tab: give it a blank one to go on from."""
        if self.runner.page.is_closed():
            pages = self.runner.page.context.pages
            self.runner.page = pages[-1] if pages else await self.runner.page.context.new_page()

    async def _screenshot_for_model(self) -> Image:
        data = await self.runner.run(a.Screenshot(format="jpeg", quality=70))
        return Image(data, "image/jpeg")

    # ---------------------------------------------------------------------------------- limits
    def _notes(self) -> list[str]:
        if NUDGE_AFTER <= self._repeats < self.template.loop_limit:
            return [
                f"Note: you made the same call(s) {self._repeats} times and the page did not change. "
                "Try something different, or call done."
            ]
        return []

    def _check_failures(self, record: StepRecord) -> None:
        if not record.actions:
            return
        if any(r.ok for r in record.actions):
            self._failures = 0
            return
        self._failures += 1
        if self._failures >= self.template.max_failures:
            last = record.actions[-1].error
            raise AgentStopped(
                ErrorCode.AGENT_STUCK, f"{self._failures} steps in a row failed; the last error: {last}"
            )

    def _check_loop(self, calls: list[PlannedCall], state: PageState) -> None:
        signature = json.dumps([c.describe() for c in calls], sort_keys=True) + state.fingerprint
        self._repeats = self._repeats + 1 if signature == self._signature else 1
        self._signature = signature
        if self._repeats >= self.template.loop_limit:
            what = ", ".join(c.name for c in calls)
            raise AgentStopped(
                ErrorCode.AGENT_STUCK,
                f"The agent repeated the same action ({what}) {self._repeats} times on an unchanged page",
            )


def _gave_up(result: str) -> str:
    return f"The agent could not accomplish the task: {result}"[:1000]


def _output_text(output: Any) -> str | None:
    if output is None or isinstance(output, bytes):
        return None
    text = output if isinstance(output, str) else json.dumps(output, default=str)
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + " …(cut)"


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
