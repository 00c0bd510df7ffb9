"""Captcha solving inside a live session (``browserSettings.solveCaptchas``, default true).

The client drives the page; the node watches it. After every page load the supervisor hands the
page here: the captcha detection script (node/captcha/js) runs in the page's main frame and, when
a reCAPTCHA, hCaptcha or Turnstile widget with a sitekey is there and a solver is configured, the
solver's token is injected and the page's callback fired — the same scripts renders use, sent
over the node's own CDP connection, so the client sees none of it. Like Browserbase, the page's
console says ``browserbase-solving-started`` and then ``browserbase-solving-finished`` (or
``browserbase-solving-failed``), so a client can wait for it.

Only the main frame is searched (a widget inside a child frame is left to the client).
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog

from browserfleet.core.errors import JobFailure
from browserfleet.node.captcha import CaptchaSolver, CaptchaTask
from browserfleet.node.captcha.detect import DETECT_JS
from browserfleet.node.captcha.inject import CALLBACK_JS, INJECT_JS
from browserfleet.node.cdp import CDPConnection, CDPError

log = structlog.get_logger(__name__)
STARTED, FINISHED, FAILED = (
    "browserbase-solving-started",
    "browserbase-solving-finished",
    "browserbase-solving-failed",
)


class SessionCaptchas:
    def __init__(self, cdp: CDPConnection, solver: CaptchaSolver, *, timeout_s: float) -> None:
        self.cdp = cdp
        self.solver = solver
        self.timeout_s = timeout_s
        self.solved = 0

    async def on_load(self, page_session: str) -> None:
        """Detect, solve and inject in the page that just loaded (errors are logged, never raised)."""
        try:
            found = await self._evaluate(page_session, f"({DETECT_JS})()") or []
            widget = next((item for item in found if item.get("sitekey")), None)
            if widget is not None:
                await self._solve(page_session, widget)
        except (CDPError, ConnectionError, TimeoutError) as exc:
            log.debug("session.captcha_skipped", error=str(exc))

    async def _solve(self, page_session: str, widget: dict[str, Any]) -> None:
        url = str(await self._evaluate(page_session, "location.href"))
        task = CaptchaTask(str(widget["type"]), url, str(widget["sitekey"]), page_action=widget.get("action"))
        await self._console(page_session, STARTED)
        started = time.monotonic()
        try:
            token = await self.solver.solve(task, timeout_s=self.timeout_s)
        except JobFailure as exc:
            log.info("session.captcha_failed", kind=task.kind, code=exc.code.value)
            await self._console(page_session, FAILED)
            return
        arg = json.dumps({"type": task.kind, "sitekey": task.website_key, "token": token})
        filled = int(await self._evaluate(page_session, f"({INJECT_JS})({arg})") or 0)
        if filled:
            await self._evaluate(page_session, f"({CALLBACK_JS})({arg})")
            self.solved += 1
        ms = round((time.monotonic() - started) * 1000)
        log.info("session.captcha_handled", kind=task.kind, handled=bool(filled), ms=ms)
        await self._console(page_session, FINISHED if filled else FAILED)

    async def _console(self, page_session: str, message: str) -> None:
        await self._evaluate(page_session, f"console.log({json.dumps(message)})")

    async def _evaluate(self, page_session: str, expression: str) -> Any:
        answer = await self.cdp.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session_id=page_session,
        )
        if "exceptionDetails" in answer:
            raise CDPError("Runtime.evaluate", {"message": str(answer["exceptionDetails"].get("text"))})
        return answer.get("result", {}).get("value")
