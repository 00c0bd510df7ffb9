"""The one step runner: executes core.actions on a Playwright page.

Renders' ``waitFor``, automation steps and the agent's tool calls all end up here. Playwright's
errors are translated in :func:`translate_errors`: a wait that runs out of time is the user's
``WAIT_TIMEOUT``, a dead browser is :class:`BrowserCrashed` (the node retries), anything else
propagates.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import mimetypes
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import FilePayload, Page
from playwright.async_api import TimeoutError as PlaywrightTimeout
from pydantic import BaseModel

from browserfleet.core import actions as a
from browserfleet.core.errors import BrowserCrashed, ErrorCode, JobFailure
from browserfleet.node import captcha
from browserfleet.node.egress import EGRESS_HEADER

ProxyAnswer = tuple[str, str]  # (URL, X-Browserfleet-Egress kind) of a response the egress proxy made

_TEXT_PRESENT = """([sel, text]) => {
  const scope = sel ? Array.from(document.querySelectorAll(sel)) : [document.body];
  return scope.some((el) => el && (el.innerText || el.textContent || '').includes(text));
}"""

_FETCH = """async ([url, timeoutMs]) => {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  try {
    const r = await fetch(url, {credentials: 'include', signal: ctrl.signal});
    const headers = {};
    r.headers.forEach((v, k) => { headers[k] = v; });
    return {url, status: r.status, statusText: r.statusText, headers, body: await r.text()};
  } catch (e) {
    return {url, status: 0, statusText: '', headers: {}, body: '', error: String(e && e.message || e)};
  } finally { clearTimeout(timer); }
}"""

_STRUCTURED = """([sel, fields]) => Array.from(document.querySelectorAll(sel)).map((root) => {
  const rec = {};
  for (const f of fields) {
    const el = root.querySelector(f.selector);
    rec[f.name] = !el ? null : (f.attribute ? el.getAttribute(f.attribute) : el.innerText.trim());
  }
  return rec;
})"""


@contextlib.contextmanager
def translate_errors(page: Page, what: str) -> Iterator[None]:
    """Map Playwright failures while doing ``what`` to the job vocabulary."""
    try:
        yield
    except PlaywrightTimeout as exc:
        raise JobFailure(ErrorCode.WAIT_TIMEOUT, f"{what}: timed out") from exc
    except PlaywrightError as exc:
        browser = page.context.browser
        if browser is None or not browser.is_connected():
            raise BrowserCrashed(str(exc)) from exc
        if invalid_selector(str(exc)):
            raise JobFailure(ErrorCode.INVALID_SELECTOR, f"{what}: invalid selector") from exc
        raise


# How a refused selector reads: Playwright's own parser ('Error while parsing css selector "0"',
# 'Unexpected token "" while parsing css selector "div["', 'Unknown engine "x" while parsing
# selector x=1', '"is" engine expects non-empty selector list'), and the browser's
# (querySelectorAll's "… is not a valid selector", document.evaluate's "… is not a valid XPath
# expression").
_INVALID_SELECTOR = (
    "while parsing css selector",
    "while parsing selector",
    "engine expects",
    "is not a valid selector",
    "is not a valid XPath expression",
)


def invalid_selector(message: str) -> bool:
    """Does Playwright's error ``message`` say a selector itself is invalid (the caller's mistake)?"""
    return any(marker in message for marker in _INVALID_SELECTOR) or (
        "SyntaxError" in message and "selector" in message
    )


Handler = Callable[["StepRunner", Any], Awaitable[Any]]
# action name → the runner's handler for it (core/actions.py ACTIONS holds every name)
HANDLERS: dict[str, Handler] = {}


def handles(model: type[BaseModel]) -> Callable[[Handler], Handler]:
    """Register the decorated method as the handler of ``model``'s action."""

    def register(handler: Handler) -> Handler:
        HANDLERS[model.model_fields["action"].default] = handler
        return handler

    return register


def missing_handlers() -> set[str]:
    """Actions of the vocabulary the runner cannot run (none, unless a handler was forgotten)."""
    return set(a.ACTIONS) - set(HANDLERS)


class StepRunner:
    """Runs actions on one page (the current tab); outputs are plain JSON-able values or bytes."""

    def __init__(
        self,
        page: Page,
        *,
        files_dir: Path | None = None,
        captcha_solver: captcha.CaptchaSolver | None = None,
    ) -> None:
        self.page = page
        self.files_dir = files_dir
        self.captcha_solver = captcha_solver
        # navigations and downloads the egress proxy answered itself (blocked, unreachable): not
        # the site's answer; the caller decides what they mean (node/automation.py fails the step)
        self.proxy_answers: list[ProxyAnswer] = []

    async def run(self, action: a.Action) -> Any:
        with translate_errors(self.page, describe(action)):
            return await HANDLERS[action.action](self, action)

    @handles(a.Goto)
    async def _goto(self, act: a.Goto) -> None:
        response = await self.page.goto(act.url, wait_until=act.wait_until, timeout=act.timeout_ms)
        if response is not None:
            self._note(response.url, response.headers)

    @handles(a.GoBack)
    async def _go_back(self, _: a.GoBack) -> None:
        await self.page.go_back()

    @handles(a.GoForward)
    async def _go_forward(self, _: a.GoForward) -> None:
        await self.page.go_forward()

    @handles(a.Reload)
    async def _reload(self, _: a.Reload) -> None:
        await self.page.reload()

    def _note(self, url: str, headers: dict[str, str]) -> None:
        kind = headers.get(EGRESS_HEADER.lower())
        if kind:
            self.proxy_answers.append((url, kind))

    @handles(a.Click)
    async def _click(self, act: a.Click) -> None:
        await self.page.click(act.selector, timeout=act.timeout_ms)

    @handles(a.Type)
    async def _type(self, act: a.Type) -> None:
        locator = self.page.locator(act.selector).first
        if act.clear:
            await locator.fill("", timeout=act.timeout_ms)
        await locator.press_sequentially(act.text, delay=act.delay_ms, timeout=act.timeout_ms)

    @handles(a.Press)
    async def _press(self, act: a.Press) -> None:
        if act.selector:
            await self.page.press(act.selector, act.key)
        else:
            await self.page.keyboard.press(act.key)

    @handles(a.Hover)
    async def _hover(self, act: a.Hover) -> None:
        await self.page.hover(act.selector, timeout=act.timeout_ms)

    @handles(a.Select)
    async def _select(self, act: a.Select) -> list[str]:
        return await self.page.select_option(act.selector, act.values, timeout=act.timeout_ms)

    @handles(a.Scroll)
    async def _scroll(self, act: a.Scroll) -> None:
        if act.selector:
            await self.page.locator(act.selector).first.scroll_into_view_if_needed()
        elif act.to:
            y = "document.body.scrollHeight" if act.to == "bottom" else "0"
            await self.page.evaluate(f"window.scrollTo(0, {y})")
        else:
            await self.page.mouse.wheel(act.x, act.y)

    @handles(a.Delay)
    async def _delay(self, act: a.Delay) -> None:
        await asyncio.sleep(act.duration_ms / 1000)

    @handles(a.WaitForSelector)
    async def _wait_for_selector(self, act: a.WaitForSelector) -> None:
        await self.page.wait_for_selector(act.selector, state=act.state, timeout=act.timeout_ms)

    @handles(a.WaitForText)
    async def _wait_for_text(self, act: a.WaitForText) -> None:
        await self.page.wait_for_function(_TEXT_PRESENT, arg=[act.selector, act.text], timeout=act.timeout_ms)

    @handles(a.WaitForNavigation)
    async def _wait_for_navigation(self, act: a.WaitForNavigation) -> None:
        await self.page.wait_for_url(act.url or "**", timeout=act.timeout_ms)

    @handles(a.Screenshot)
    async def _screenshot(self, act: a.Screenshot) -> bytes:
        target = self.page.locator(act.selector).first if act.selector else self.page
        quality = act.quality if act.format == "jpeg" else None
        if act.selector:
            return await target.screenshot(type=act.format, quality=quality)
        return await self.page.screenshot(type=act.format, quality=quality, full_page=act.full_page)

    @handles(a.SaveText)
    async def _save_text(self, act: a.SaveText) -> str | list[str]:
        locator = self.page.locator(act.selector)
        if act.all:
            return [t.strip() for t in await locator.all_inner_texts()]
        return (await locator.first.inner_text(timeout=act.timeout_ms)).strip()

    @handles(a.SaveAttribute)
    async def _save_attribute(self, act: a.SaveAttribute) -> str | list[str | None] | None:
        locator = self.page.locator(act.selector)
        if act.all:
            return [await el.get_attribute(act.attribute) for el in await locator.all()]
        return await locator.first.get_attribute(act.attribute, timeout=act.timeout_ms)

    @handles(a.SaveHtml)
    async def _save_html(self, act: a.SaveHtml) -> str:
        if act.selector:
            return await self.page.locator(act.selector).first.inner_html()
        return await self.page.content()

    @handles(a.SaveStructuredData)
    async def _save_structured_data(self, act: a.SaveStructuredData) -> list[dict[str, Any]]:
        await self.page.wait_for_selector(act.selector, state="attached", timeout=act.timeout_ms)
        fields = [f.model_dump() for f in act.fields]
        result: list[dict[str, Any]] = await self.page.evaluate(_STRUCTURED, [act.selector, fields])
        return result

    @handles(a.SavePdf)
    async def _save_pdf(self, act: a.SavePdf) -> bytes:
        return await self.page.pdf(format=act.format, landscape=act.landscape)

    @handles(a.UploadFile)
    async def _upload_file(self, act: a.UploadFile) -> None:
        if self.files_dir is None:
            raise JobFailure(ErrorCode.INTERNAL_ERROR, "no files are stored for this job")
        paths = [self.files_dir / Path(name).name for name in act.files]
        # the files' bytes, not their paths: a contained browser sees no folder of the node
        files = await asyncio.to_thread(_payloads, paths)
        await self.page.set_input_files(act.selector, files, timeout=act.timeout_ms)

    @handles(a.Download)
    async def _download(self, act: a.Download) -> dict[str, Any]:
        """``{"filename", "body"}`` (bytes) of the file a click starts or ``url`` serves."""
        if act.url is not None:
            response = await self.page.context.request.get(act.url, timeout=act.timeout_ms)
            self._note(response.url, response.headers)
            name = Path(urlsplit(response.url).path).name or "download"
            return {"filename": name, "body": await response.body()}
        assert act.selector is not None
        async with self.page.expect_download(timeout=act.timeout_ms) as info:
            await self.page.click(act.selector, timeout=act.timeout_ms)
        download = await info.value
        path = await download.path()
        return {"filename": download.suggested_filename, "body": read_no_follow(path)}

    @handles(a.Evaluate)
    async def _evaluate(self, act: a.Evaluate) -> Any:
        return await self.page.evaluate(act.expression)

    @handles(a.Fetch)
    async def _fetch(self, act: a.Fetch) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate(_FETCH, [act.url, act.timeout_ms])
        return result

    @handles(a.SolveCaptcha)
    async def _solve_captcha(self, act: a.SolveCaptcha) -> dict[str, Any]:
        """Detect (``kind``: auto or one type), solve and inject; the ``captcha`` report as output."""
        if self.captcha_solver is None:
            raise captcha.CaptchaSolverError("no captcha solver is configured")
        outcome = await captcha.handle(
            self.page, act.kind, self.captcha_solver, timeout_s=act.timeout_ms / 1000
        )
        return outcome.report()

    @handles(a.NewTab)
    async def _new_tab(self, act: a.NewTab) -> None:
        self.page = await self.page.context.new_page()
        if act.url:
            await self.page.goto(act.url)

    @handles(a.SwitchTab)
    async def _switch_tab(self, act: a.SwitchTab) -> None:
        pages = self.page.context.pages
        if act.index >= len(pages):
            raise JobFailure(ErrorCode.WAIT_TIMEOUT, f"there is no tab {act.index} (open: {len(pages)})")
        self.page = pages[act.index]
        await self.page.bring_to_front()

    @handles(a.CloseTab)
    async def _close_tab(self, act: a.CloseTab) -> None:
        context = self.page.context
        await self.page.close()
        if context.pages:
            self.page = context.pages[-1]


def describe(action: a.Action) -> str:
    """A short human phrase for error messages, e.g. ``wait_for_selector '#late'``."""
    names = ("selector", "text", "url")
    target = next((v for v in (getattr(action, n, None) for n in names) if v), None)
    return f"{action.action} {target!r}" if target else action.action


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _payloads(paths: list[Path]) -> list[FilePayload]:
    return [
        {
            "name": path.name,
            "mimeType": mimetypes.guess_type(path.name)[0] or "application/octet-stream",
            "buffer": path.read_bytes(),
        }
        for path in paths
    ]


def read_no_follow(path: Path) -> bytes:
    """A file the browser wrote (a download), never through a symbolic link it may have put in
    its place: the browser's folders are its own (node/sandbox/)."""
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as handle:
        return handle.read()
