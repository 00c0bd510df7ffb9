"""Captcha solving inside a live session (``browserSettings.solveCaptchas``, default true).

The client drives the page; the node watches it. After every page load the supervisor hands the
page here: the captcha detection script (node/captcha/js) runs in the page's main frame and, when
a reCAPTCHA, hCaptcha or Turnstile widget with a sitekey is there and a solver is configured, the
solver's token is injected and the page's callback fired — the same scripts renders use, sent
over the node's own CDP connection, so the client sees none of it. Like Browserbase, the page's
console says ``browserbase-solving-started`` and then ``browserbase-solving-finished`` (or
``browserbase-solving-failed``), so a client can wait for it.

Image (text) captchas: with ``browserSettings.captchaImageSelector`` and ``captchaInputSelector``,
after every page load an element matching the image selector is photographed — its own pixels,
``Page.captureScreenshot`` clipped to its box, so ``data:``, ``blob:``, canvas and cross-origin
images are all the same — the solver reads the text (``ImageToTextTask``), and the answer is typed
into the element matching the input selector (value set through the element's own setter, then
``input`` and ``change`` events, as a framework listening to them expects). Same console messages.

Only the main frame is searched (a widget inside a child frame is left to the client).
"""

from __future__ import annotations

import base64
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


# Finds the captcha image (waits for it to decode), brings it into view when it is not, and
# answers its box in page coordinates (CSS pixels), or null when there is nothing to photograph.
IMAGE_BOX_JS = """async ({image, input, waitMs}) => {
  const el = document.querySelector(image);
  if (!el || !document.querySelector(input)) return null;
  if (el instanceof HTMLImageElement && !el.complete) {
    await new Promise(done => { el.addEventListener('load', done, {once: true});
      el.addEventListener('error', done, {once: true}); setTimeout(done, waitMs); });
  }
  if (el instanceof HTMLImageElement && el.decode) {
    await Promise.race([el.decode().catch(() => {}), new Promise(done => setTimeout(done, waitMs))]);
  }
  let r = el.getBoundingClientRect();
  if (r.width < 1 || r.height < 1) return null;
  if (r.top < 0 || r.left < 0 || r.bottom > innerHeight || r.right > innerWidth) {
    el.scrollIntoView({block: 'center', inline: 'center'});
    r = el.getBoundingClientRect();
  }
  const v = window.visualViewport;
  return {x: r.left + (v ? v.pageLeft : scrollX), y: r.top + (v ? v.pageTop : scrollY),
          width: r.width, height: r.height};
}"""
# Types the answer into the input the way a user's keyboard would leave it: the value through the
# prototype's setter (so React-style trackers see the change), then input and change events.
FILL_INPUT_JS = """({input, text}) => {
  const el = document.querySelector(input);
  if (!el) return false;
  const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype
    : el instanceof HTMLInputElement ? HTMLInputElement.prototype : null;
  const setter = proto && Object.getOwnPropertyDescriptor(proto, 'value')?.set;
  if (setter) setter.call(el, text); else el.value = text;
  el.dispatchEvent(new Event('input', {bubbles: true}));
  el.dispatchEvent(new Event('change', {bubbles: true}));
  return true;
}"""
IMAGE_WAIT_MS = 5000


class SessionCaptchas:
    def __init__(
        self,
        cdp: CDPConnection,
        solver: CaptchaSolver,
        *,
        timeout_s: float,
        image_selector: str | None = None,
        input_selector: str | None = None,
    ) -> None:
        self.cdp = cdp
        self.solver = solver
        self.timeout_s = timeout_s
        # image captchas only when both selectors are given
        self.image_selectors = (image_selector, input_selector) if image_selector and input_selector else None
        self.solved = 0

    async def on_load(self, page_session: str) -> None:
        """Detect, solve and inject in the page that just loaded (errors are logged, never raised)."""
        try:
            found = await self._evaluate(page_session, f"({DETECT_JS})()") or []
            widget = next((item for item in found if item.get("sitekey")), None)
            if widget is not None:
                await self._solve(page_session, widget)
            if self.image_selectors is not None:
                await self._solve_image(page_session, *self.image_selectors)
        except (CDPError, ConnectionError, TimeoutError) as exc:
            log.debug("session.captcha_skipped", error=str(exc))

    async def _solve_image(self, page_session: str, image: str, input_: str) -> None:
        arg = json.dumps({"image": image, "input": input_, "waitMs": IMAGE_WAIT_MS})
        box = await self._evaluate(page_session, f"({IMAGE_BOX_JS})({arg})")
        if not box:
            return
        await self._console(page_session, STARTED)
        started = time.monotonic()
        try:
            shot = await self.cdp.send(
                "Page.captureScreenshot",
                {"format": "png", "clip": {**box, "scale": 1}, "captureBeyondViewport": False},
                session_id=page_session,
            )
        except CDPError as exc:
            log.info("session.captcha_failed", kind="image", error=str(exc))
            await self._console(page_session, FAILED)
            return
        url = str(await self._evaluate(page_session, "location.href"))
        try:
            text = await self.solver.solve_image(
                base64.b64decode(shot["data"]), timeout_s=self.timeout_s, website_url=url
            )
        except JobFailure as exc:
            log.info("session.captcha_failed", kind="image", code=exc.code.value)
            await self._console(page_session, FAILED)
            return
        arg = json.dumps({"input": input_, "text": text})
        filled = bool(await self._evaluate(page_session, f"({FILL_INPUT_JS})({arg})"))
        if filled:
            self.solved += 1
        ms = round((time.monotonic() - started) * 1000)
        log.info("session.captcha_handled", kind="image", handled=filled, ms=ms)
        await self._console(page_session, FINISHED if filled else FAILED)

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
