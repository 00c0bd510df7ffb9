"""A task's screenshots, per the request's (or template's) mode, taken with the shared
``screenshot`` action.

* ``every_step``: after each agent step (the viewport), ``step-001.png`` …
* ``on_navigation``: after the steps whose actions changed the page's URL, same names;
* ``final_only``: once at the end, ``final.png``, of the full page unless ``full_page: false``.

The files are the job's blobs; their names, in order, go into the task's ``info.screenshots``.
A screenshot that cannot be taken (the tab was closed, the page is gone) is skipped and logged.
"""

from __future__ import annotations

import structlog
from playwright.async_api import Error as PlaywrightError

from browserfleet.core import actions as a
from browserfleet.core.browsing.templates import Screenshots
from browserfleet.core.errors import JobFailure
from browserfleet.node.steps import StepRunner

log = structlog.get_logger(__name__)
FINAL = "final.png"


class ScreenshotTaker:
    def __init__(self, policy: Screenshots | None, runner: StepRunner) -> None:
        self.policy = policy
        self.runner = runner
        self.blobs: dict[str, bytes] = {}

    @property
    def names(self) -> list[str]:
        return list(self.blobs)

    async def after_step(self, step: int, url_before: str, url_after: str) -> str | None:
        mode = self.policy.mode if self.policy else None
        if mode == "every_step" or (mode == "on_navigation" and url_after != url_before):
            return await self._take(f"step-{step:03d}.png", full_page=False)
        return None

    async def final(self) -> str | None:
        if self.policy is None or self.policy.mode != "final_only":
            return None
        return await self._take(FINAL, full_page=self.policy.full_page)

    async def _take(self, name: str, *, full_page: bool) -> str | None:
        try:
            data = await self.runner.run(a.Screenshot(format="png", full_page=full_page))
        except (JobFailure, PlaywrightError) as exc:
            log.warning("agent.screenshot_failed", name=name, error=str(exc).splitlines()[0][:200])
            return None
        self.blobs[name] = data
        return name
