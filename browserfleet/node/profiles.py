"""Node side of contexts: a session's user-data-dir from and back into its saved profile.

Order in a session (node/session/executor.py):

1. :meth:`Profiles.restore` extracts the saved profile into the fresh user-data-dir before the
   browser launches, and returns the cookies saved with it;
2. once the browser is up, :func:`set_cookies` (CDP ``Storage.setCookies``) puts them back —
   session cookies (no expiry) never reach the profile's cookie DB, so the files alone lose them;
3. at the end, when ``persist`` is true: :func:`read_cookies` (``Storage.getCookies``), then the
   supervisor closes the browser cleanly with ``Browser.close`` (Chromium flushes its cookie DB and
   LevelDB) and waits for the process to exit; then :meth:`Profiles.save` archives the folder
   (caches and run-time files left out, core/sessions/profile_archive.py), encrypts and stores it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import structlog

from browserfleet.core.sessions.contexts import Contexts
from browserfleet.core.sessions.profile_archive import pack_dir, unpack
from browserfleet.node.cdp import CDPConnection

log = structlog.get_logger(__name__)
# what Storage.setCookies accepts of what Storage.getCookies returns
COOKIE_PARAMS = (
    "name",
    "value",
    "domain",
    "path",
    "secure",
    "httpOnly",
    "sameSite",
    "expires",
    "priority",
    "sourceScheme",
    "sourcePort",
    "partitionKey",
)


class Profiles:
    def __init__(self, contexts: Contexts) -> None:
        self.contexts = contexts

    async def restore(self, context_id: str, user_data_dir: Path) -> list[dict[str, Any]]:
        """Extract the saved profile (if any) into ``user_data_dir``; the saved cookies."""
        started = time.monotonic()
        archive = await self.contexts.load_profile(context_id)
        if archive is None:
            return []
        cookies = await asyncio.to_thread(unpack, archive, user_data_dir, self.contexts.max_bytes)
        (user_data_dir / "DevToolsActivePort").unlink(missing_ok=True)
        log.info(
            "context.restored",
            context_id=context_id,
            bytes=len(archive),
            cookies=len(cookies),
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        return cookies

    async def save(self, context_id: str, user_data_dir: Path, cookies: list[dict[str, Any]]) -> bool:
        """Archive the (exited) browser's ``user_data_dir`` with ``cookies`` into the context.
        False if the context was deleted meanwhile."""
        started = time.monotonic()
        archive = await asyncio.to_thread(pack_dir, user_data_dir, cookies)
        packed = time.monotonic()
        saved = await self.contexts.store_profile(context_id, archive)
        log.info(
            "context.saved",
            context_id=context_id,
            bytes=len(archive),
            cookies=len(cookies),
            pack_ms=round((packed - started) * 1000, 1),
            ms=round((time.monotonic() - started) * 1000, 1),
            kept=saved is not None,
        )
        return saved is not None


def _cookie_param(cookie: dict[str, Any]) -> dict[str, Any]:
    param = {k: cookie[k] for k in COOKIE_PARAMS if k in cookie}
    if cookie.get("session") or float(cookie.get("expires", -1)) < 0:
        param.pop("expires", None)  # a session cookie stays one
    return param


def live_cookies(cookies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Saved cookies worth setting again: session ones, and persistent ones not yet expired."""
    now = time.time()
    return [
        _cookie_param(c)
        for c in cookies
        if c.get("name") is not None and (c.get("session") or not 0 <= float(c.get("expires", -1)) < now)
    ]


async def set_cookies(cdp: CDPConnection, cookies: list[dict[str, Any]]) -> None:
    params = live_cookies(cookies)
    if params:
        await cdp.send("Storage.setCookies", {"cookies": params})


async def read_cookies(cdp: CDPConnection) -> list[dict[str, Any]]:
    """Every cookie of the browser (session cookies included), read before it closes."""
    result = await cdp.send("Storage.getCookies")
    return list(result.get("cookies", []))
