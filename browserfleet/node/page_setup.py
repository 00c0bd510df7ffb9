"""Per-page browser settings applied over one CDP session, with no per-request round trips.

- Image blocking: the Fetch domain pauses only requests whose resource type is ``Image``, and
  each is failed as ``BlockedByClient``; every other request flows untouched. (A Playwright
  ``route("**/*")`` would pause and round-trip every request of the page instead.)
- Accept-Language: ``Network.setUserAgentOverride`` sends the city's full header on navigations
  and sub-resources alike (the context ``locale`` alone would send the bare locale).
"""

from __future__ import annotations

import asyncio
from typing import Any

from playwright.async_api import CDPSession, Page

_IMAGE_PATTERN = {"resourceType": "Image", "requestStage": "Request"}
_user_agents: dict[str, str] = {}


async def setup_page(page: Page, *, block_images: bool, accept_language: str | None) -> CDPSession | None:
    """Apply the settings; returns the CDP session (kept alive with the page) or None."""
    if not block_images and not accept_language:
        return None
    session = await page.context.new_cdp_session(page)
    if block_images:
        session.on("Fetch.requestPaused", lambda event: _fail(session, event))
        await session.send("Fetch.enable", {"patterns": [_IMAGE_PATTERN]})
    if accept_language:
        user_agent = await _user_agent(page)
        # Chromium adds the q-values itself (en-US,en → en-US,en;q=0.9): pass the bare list
        languages = ",".join(part.split(";")[0].strip() for part in accept_language.split(","))
        await session.send(
            "Network.setUserAgentOverride", {"userAgent": user_agent, "acceptLanguage": languages}
        )
    return session


def _fail(session: CDPSession, event: dict[str, Any]) -> None:
    request = session.send(
        "Fetch.failRequest", {"requestId": event["requestId"], "errorReason": "BlockedByClient"}
    )
    task = asyncio.ensure_future(request)
    task.add_done_callback(lambda t: t.cancelled() or t.exception())  # the page may be gone


async def _user_agent(page: Page) -> str:
    """The browser's own user agent (cached per browser version)."""
    browser = page.context.browser
    version = browser.version if browser else ""
    if version not in _user_agents:
        _user_agents[version] = str(await page.evaluate("navigator.userAgent"))
    return _user_agents[version]
