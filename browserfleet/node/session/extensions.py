"""Node side of extensions: a session created with ``extensionId`` runs it in every page.

Measured on Debian's Chromium 156 (shared notes, "Chrome extensions in headless"):
``chromium-headless-shell`` has no extension support at all, and an extension loaded with
``--load-extension`` runs only in the default context, never in the contexts a client opens
(``Target.createBrowserContext``). So such a session:

1. runs the FULL Chromium (``settings.chromium_path``) with ``--headless=new`` and
   ``--enable-unsafe-extension-debugging`` instead of the headless shell (:meth:`launch`), its
   prewarmed omnibox-popup WebUIs and spare renderer switched off (``EXTENSION_FLAGS``; the
   operator's own ``--disable-features`` in ``session_chromium_flags``, if any, comes later and
   wins: Chromium keeps the last value of a repeated switch);
2. gets the stored zip from the blob store and unpacks it — through the same validation as the
   upload, core/sessions/extension_archive.py — into a folder next to its user-data-dir
   (``<user-data-dir>-extension``, removed with it; kept out of the user-data-dir so that a
   persisted context never carries the extension's files) (:meth:`unpack`);
3. once the browser is up and before the session is announced ready, loads it with the
   browser-level CDP command ``Extensions.loadUnpacked {path, enableInIncognito: true}``, which
   makes it run in the default context and in every new context (:meth:`load`).

Any failure is ``EXTENSION_LOAD_FAILED`` with the reason (Chromium's own message when it refused
the extension); session create turns it into a 400 (core/sessions/service.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from browserfleet.core.errors import BrowserfleetError, ErrorCode, JobFailure
from browserfleet.core.sessions.extension_archive import extract
from browserfleet.core.sessions.extensions import Extensions
from browserfleet.node.cdp import CDPConnection, CDPError

log = structlog.get_logger(__name__)
EXTENSION_FLAGS = (
    "--headless=new",
    "--enable-unsafe-extension-debugging",
    # the full browser prewarms its omnibox popups (two chrome://omnibox-popup.top-chrome WebUI
    # renderers) and a spare renderer: ~90 MB PSS an idle session never uses (measured: 375 → 283 MB)
    "--disable-features=WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup,"
    "SpareRendererForSitePerProcess",
)
LOAD_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ExtensionLaunch:
    """How to start a session's browser for its extension."""

    extension_id: str
    binary: Path
    flags: tuple[str, ...]
    path: Path  # the unpacked extension


def extension_dir(user_data: Path) -> Path:
    """Where a session's extension is unpacked: next to its user-data-dir, removed with it."""
    return user_data.with_name(f"{user_data.name}-extension")


class SessionExtensions:
    def __init__(self, extensions: Extensions, chromium: Path) -> None:
        self.extensions = extensions
        self.chromium = chromium

    async def launch(self, project_id: str, extension_id: str, user_data: Path) -> ExtensionLaunch:
        """Unpack the extension and say which browser (and flags) the session needs."""
        path = await self.unpack(project_id, extension_id, extension_dir(user_data))
        return ExtensionLaunch(extension_id, self.chromium, EXTENSION_FLAGS, path)

    async def unpack(self, project_id: str, extension_id: str, dest: Path) -> Path:
        started = time.monotonic()
        try:
            data = await self.extensions.load_zip(project_id, extension_id)
            path = await asyncio.to_thread(extract, data, dest, self.extensions.limits)
        except (LookupError, BrowserfleetError, OSError) as exc:
            reason = exc.message if isinstance(exc, BrowserfleetError) else str(exc)
            raise _failure(extension_id, reason) from exc
        log.info(
            "extension.unpacked",
            extension_id=extension_id,
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        return path

    @staticmethod
    async def load(cdp: CDPConnection, launch: ExtensionLaunch) -> str:
        """``Extensions.loadUnpacked`` on the browser target; Chromium's id of the extension."""
        extension_id, path = launch.extension_id, launch.path
        started = time.monotonic()
        try:
            answer = await cdp.send(
                "Extensions.loadUnpacked",
                {"path": str(path), "enableInIncognito": True},
                timeout_s=LOAD_TIMEOUT_S,
            )
        except CDPError as exc:
            reason = str(exc).removeprefix("Extensions.loadUnpacked: ")
            raise _failure(extension_id, f"Chromium refused it: {reason}") from exc
        except (ConnectionError, TimeoutError) as exc:
            raise _failure(extension_id, "the browser did not answer Extensions.loadUnpacked") from exc
        chromium_id = str(answer.get("id", ""))
        log.info(
            "extension.loaded",
            extension_id=extension_id,
            chromium_id=chromium_id,
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        return chromium_id


def _failure(extension_id: str, reason: str) -> JobFailure:
    return JobFailure(
        ErrorCode.EXTENSION_LOAD_FAILED, f"Extension {extension_id} could not be loaded: {reason}"
    )
