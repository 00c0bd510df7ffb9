"""The page as the model sees it: a compact text serialization with stable element indexes.

:func:`observe` runs ``js/page_state.js`` once (one ``evaluate``): the visible text in reading
order with each visible interactive element inlined as ``[N]<tag attrs>text</tag>``; the index
``N`` is kept in the element's ``data-bf-idx`` attribute, so it stays the same from step to step
while the element lives, and a tool call names an element by it (core/browsing/tools.py).
:func:`render` turns a :class:`PageState` into the message the model gets each step.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from browserfleet.core.browsing.tools import ELEMENT_ATTR

_SCRIPT = (resources.files("browserfleet.node.agent") / "js" / "page_state.js").read_text()
# the renders' request counter (node/js/pending_requests.js), installed in every agent context
PENDING_REQUESTS = (resources.files("browserfleet.node") / "js" / "pending_requests.js").read_text()
SETTLE_QUIET_MS = 100
SETTLE_CAP_MS = 3000
_SETTLE = f"window.__bfSettle ? window.__bfSettle({SETTLE_QUIET_MS}, {SETTLE_CAP_MS}) : 0"
MAX_CHARS = 15_000
MAX_NODES = 30_000
_RETRIES = 3


@dataclass(frozen=True)
class PageState:
    url: str
    title: str
    text: str
    elements: int
    truncated: bool
    scroll_y: int
    viewport_height: int
    page_height: int
    tabs: tuple[str, ...]
    tab: int

    @property
    def fingerprint(self) -> str:
        """Changes when the page the model sees changes (URL, text, scroll position)."""
        digest = hashlib.sha256(f"{self.url}\n{self.scroll_y}\n{self.text}".encode())
        return digest.hexdigest()[:16]


async def observe(page: Page, *, max_chars: int = MAX_CHARS) -> PageState:
    """Read the page (retried while a navigation replaces the document under the evaluate)."""
    options = {"attr": ELEMENT_ATTR, "maxChars": max_chars, "maxNodes": MAX_NODES}
    for attempt in range(_RETRIES):
        try:
            raw: dict[str, Any] = await page.evaluate(_SCRIPT, options)
            break
        except PlaywrightError as exc:
            if attempt == _RETRIES - 1 or "context was destroyed" not in str(exc).lower():
                raise
            await _settle(page)
    pages = page.context.pages
    return PageState(
        url=str(raw["url"]),
        title=str(raw["title"]),
        text=str(raw["text"]),
        elements=int(raw["elements"]),
        truncated=bool(raw["truncated"]),
        scroll_y=int(raw["scrollY"]),
        viewport_height=int(raw["viewportHeight"]),
        page_height=int(raw["pageHeight"]),
        tabs=tuple(p.url for p in pages),
        tab=pages.index(page) if page in pages else 0,
    )


async def settle(page: Page) -> None:
    """Let what a step started finish before the page is read again: the page's fetch/XHR calls
    end (plus a quiet window), and a navigation that replaced the document loads."""
    for attempt in range(_RETRIES):
        try:
            await page.evaluate(_SETTLE)
            return
        except PlaywrightError as exc:
            if attempt == _RETRIES - 1 or "context was destroyed" not in str(exc).lower():
                raise
            await _settle(page)


async def _settle(page: Page) -> None:
    try:
        await page.wait_for_load_state("load", timeout=SETTLE_CAP_MS)
    except PlaywrightError:
        await asyncio.sleep(0.2)


def render(state: PageState, *, step: int, max_steps: int, notes: list[str]) -> str:
    """The page state message of one step."""
    below = max(0, state.page_height - state.scroll_y - state.viewport_height)
    tabs = "\n".join(
        f"  [{n}] {url}{'  (current)' if n == state.tab else ''}" for n, url in enumerate(state.tabs)
    )
    parts = [
        f"Step {step} of {max_steps}.",
        f"Current page: {state.url}\nTitle: {state.title}",
        f"Tabs:\n{tabs}",
        f"Scroll: {state.scroll_y} px above, {below} px below "
        f"(the viewport is {state.viewport_height} px high).",
        *notes,
        "Page (interactive elements are marked [index]<tag>; use the index with click, type, select, "
        "scroll, press_key and extract_text):",
        state.text or "(the page shows no text)",
    ]
    if state.truncated:
        parts.append("(the page text was cut here; scroll or use extract_text to read more)")
    return "\n\n".join(parts)
