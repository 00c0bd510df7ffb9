"""A render's waits on a :class:`~browserfleet.node.cdp_page.CDPPage`: :class:`CDPWaits`.

The render lane runs the waits of ``waitFor`` itself, with the semantics node/steps.py gets from
Playwright: ``delay``; ``wait_for_text`` (the same in-page test); ``wait_for_selector`` for plain
CSS (core/css_selector.py ``native_css``: the first match, in the document or an open shadow root,
attached / detached / visible / hidden as Playwright judges visibility: a non-empty box,
``checkVisibility()``, ``visibility: visible``, ``display: contents`` by its children); and
``evaluate``. Each check runs in the page on every animation frame until it holds or its timeout
(0: none) passes; a navigation meanwhile starts it again in the new document. Errors are the step
runner's: a timeout is ``WAIT_TIMEOUT``, a selector the browser refuses is ``INVALID_SELECTOR``.
Any other action is not for this lane (:func:`runs_on_cdp`).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from browserfleet.core import actions as a
from browserfleet.core.css_selector import native_css
from browserfleet.core.errors import ErrorCode, JobFailure
from browserfleet.node.cdp import CDPError
from browserfleet.node.cdp_page import CDPPage, ScriptError
from browserfleet.node.steps import describe, invalid_selector

__all__ = ["CDPWaits", "runs_on_cdp"]

_WAIT = """async ([kind, selector, text, state, timeoutMs]) => {
  const shown = (el) => {
    const style = getComputedStyle(el);
    if (style.display === 'contents') {
      for (let c = el.firstChild; c; c = c.nextSibling) {
        if (c.nodeType === 1 && shown(c)) return true;
        if (c.nodeType === 3) {
          const range = document.createRange(); range.selectNode(c);
          const r = range.getBoundingClientRect(); if (r.width > 0 && r.height > 0) return true;
        }
      }
      return false;
    }
    if (!el.checkVisibility() || style.visibility !== 'visible') return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  };
  const first = (root) => {
    const found = root.querySelector(selector);
    if (found) return found;
    for (const el of root.querySelectorAll('*')) {
      const deep = el.shadowRoot && el.shadowRoot.mode === 'open' ? first(el.shadowRoot) : null;
      if (deep) return deep;
    }
    return null;
  };
  const holds = () => {
    if (kind === 'text') {
      const scope = selector ? Array.from(document.querySelectorAll(selector)) : [document.body];
      return scope.some((el) => el && (el.innerText || el.textContent || '').includes(text));
    }
    const el = first(document);
    if (state === 'attached') return !!el;
    if (state === 'detached') return !el;
    if (state === 'visible') return !!el && shown(el);
    return !el || !shown(el);
  };
  const deadline = timeoutMs ? performance.now() + timeoutMs : Infinity;
  for (;;) {
    if (holds()) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((next) => { requestAnimationFrame(next); setTimeout(next, 100); });
  }
}"""

# Runtime.evaluate errors of a wait cut short by a navigation: run it again in the new document
_NAVIGATED = ("Execution context was destroyed", "Cannot find context", "Inspected target navigated")
_SLACK_S = 5.0  # what a wait's command may take beyond the wait's own timeout
_FUNCTION_START = ("function", "async function", "async (", "async(")


def runs_on_cdp(action: a.Action) -> bool:
    """Can :class:`CDPWaits` run ``action`` with the step runner's semantics?"""
    if isinstance(action, a.WaitForSelector):
        return native_css(action.selector)
    return isinstance(action, a.Delay | a.WaitForText | a.Evaluate)


class CDPWaits:
    def __init__(self, page: CDPPage) -> None:
        self.page = page

    async def run(self, action: a.Action) -> Any:
        what = describe(action)
        try:
            match action:
                case a.Delay():
                    await asyncio.sleep(action.duration_ms / 1000)
                    return None
                case a.WaitForSelector():
                    await self._wait(what, "selector", action.selector, "", action.state, action.timeout_ms)
                    return None
                case a.WaitForText():
                    await self._wait(what, "text", action.selector, action.text, "", action.timeout_ms)
                    return None
                case a.Evaluate():
                    return await self.page.evaluate(_callable(action.expression), timeout_s=120)
        except ScriptError as exc:
            if invalid_selector(str(exc)):
                raise JobFailure(ErrorCode.INVALID_SELECTOR, f"{what}: invalid selector") from exc
            raise JobFailure(ErrorCode.INTERNAL_ERROR, f"browser error: {exc}") from exc
        raise ValueError(f"{action.action} does not run on the render lane")

    async def _wait(
        self, what: str, kind: str, selector: str | None, text: str, state: str, timeout_ms: int
    ) -> None:
        deadline = time.monotonic() + timeout_ms / 1000 if timeout_ms else None
        while True:
            left_ms = max(1, round((deadline - time.monotonic()) * 1000)) if deadline else 0
            expression = f"({_WAIT})({json.dumps([kind, selector, text, state, left_ms])})"
            limit_s = left_ms / 1000 + _SLACK_S if left_ms else 24 * 3600
            try:
                if await self.page.evaluate(expression, timeout_s=limit_s):
                    return
                raise JobFailure(ErrorCode.WAIT_TIMEOUT, f"{what}: timed out")
            except (CDPError, ScriptError) as exc:
                if not any(marker in str(exc) for marker in _NAVIGATED):
                    raise
            if deadline is not None and time.monotonic() >= deadline:
                raise JobFailure(ErrorCode.WAIT_TIMEOUT, f"{what}: timed out")
            await asyncio.sleep(0.02)  # the next document's context


def _callable(expression: str) -> str:
    """Playwright's ``evaluate`` of a string: a function is called, anything else evaluated."""
    body = expression.strip()
    arrow = body.startswith("(") and "=>" in body.split("{", 1)[0] and not body.endswith(")")
    if body.startswith(_FUNCTION_START) or arrow:
        return f"({body})()"
    return body
