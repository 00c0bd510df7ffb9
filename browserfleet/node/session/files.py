"""A session's files on its node: what its pages downloaded, and what a client uploaded for them.

Per session one folder, ``<session_files_dir>/<session id>/`` with ``downloads/`` and ``uploads/``
(removed when the session ends, after the downloads were kept as the session's ``downloads.zip``
blob).

**Downloads.** The node's own CDP connection (node/session/supervisor.py) sets
``Browser.setDownloadBehavior{behavior: "allowAndName", downloadPath: <downloads>, eventsEnabled:
true}`` for the default browser context and for every context a page appears in (before the page
runs); the protocol firewall (core/firewall/cdp.py) forces a client's own ``setDownloadBehavior``
to the same folder, whatever path it named. Chromium then saves every
download as ``<guid>``; ``Browser.downloadWillBegin`` gives its ``suggestedFilename``, and when
``Browser.downloadProgress`` says ``completed`` the file is renamed to a safe version of that name
(``name (1).ext`` on collisions). Downloads beyond ``max_bytes`` in total are cancelled
(``Browser.cancelDownload``) and logged. Chromium resets a context's download behaviour when the
client that set it leaves, so the proxy calls :meth:`SessionFiles.reapply` after each client.

**Uploads.** ``POST /v1/sessions/{id}/uploads`` stores the file as ``uploads/<safe name>`` (the same
name again replaces it); a page's ``<input type=file>`` is set to that path with CDP
``DOM.setFileInputFiles`` (docs/sessions.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import structlog

from browserfleet.core.sessions.history import DOWNLOADS_BLOB
from browserfleet.node.cdp import CDPConnection, CDPError

if TYPE_CHECKING:
    from browserfleet.node.session.supervisor import SessionSupervisor

log = structlog.get_logger(__name__)
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
MAX_NAME = 180
PARTIAL_SUFFIX = ".crdownload"  # Chromium's file while a download is still arriving
SETTLE_TIMEOUT_S = 5.0  # the round trip that takes in the download events sent so far


def safe_name(name: str | None, fallback: str = "download") -> str:
    """A file name safe on the node's filesystem: no folders, no control characters, not hidden."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip().lstrip(".").strip()
    if not base:
        return fallback
    if len(base.encode()) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        stem = (stem if dot else base).encode()[: MAX_NAME - len(ext) - 1].decode(errors="ignore")
        base = f"{stem}.{ext}" if ext else stem
    return base


def _unique(folder: Path, name: str) -> Path:
    target = folder / name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    n = 1
    while target.exists():
        target = folder / (f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})")
        n += 1
    return target


class SessionFiles:
    """The downloads and uploads folders of one live session."""

    def __init__(self, root: Path, *, downloads_max_bytes: int) -> None:
        self.root = root.resolve()
        self.downloads = self.root / "downloads"
        self.uploads = self.root / "uploads"
        self.downloads_max_bytes = downloads_max_bytes
        self._cdp: CDPConnection | None = None
        self._contexts: set[str] = set()  # browser contexts whose download behaviour was set
        self._active: dict[str, dict[str, Any]] = {}  # guid → {name, received, context}
        self._dropped: set[str] = set()  # guids of downloads cancelled or over the limit
        self._done_bytes = 0
        self.cancelled = 0  # downloads cancelled for the size limit

    def create(self) -> None:
        self.downloads.mkdir(parents=True, exist_ok=True)
        self.uploads.mkdir(parents=True, exist_ok=True)

    # ---------------------------------------------------------------- downloads

    def _behavior(self, context_id: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "behavior": "allowAndName",
            "downloadPath": str(self.downloads),
            "eventsEnabled": True,
        }
        if context_id is not None:
            params["browserContextId"] = context_id
        return params

    async def attach(self, supervisor: SessionSupervisor) -> None:
        """Route downloads of the default context, and of each context a page appears in, here."""
        self._cdp = supervisor.cdp
        supervisor.cdp.on("Browser.downloadWillBegin", self._on_begin)
        supervisor.cdp.on("Browser.downloadProgress", self._on_progress)
        supervisor.prepare_hooks.append(self._on_page)
        await supervisor.cdp.send("Browser.setDownloadBehavior", self._behavior())

    async def _on_page(self, _session_id: str, target_info: dict[str, Any]) -> None:
        context = target_info.get("browserContextId")
        if context and context not in self._contexts and self._cdp is not None:
            self._contexts.add(context)
            await self._cdp.send("Browser.setDownloadBehavior", self._behavior(context))

    async def reapply(self) -> None:
        """Set the behaviour again (Chromium resets what a leaving client had set)."""
        if self._cdp is None or self._cdp.closed:
            return
        with contextlib.suppress(CDPError, ConnectionError, TimeoutError):
            await self._cdp.send("Browser.setDownloadBehavior", self._behavior())
        for context in list(self._contexts):
            try:
                await self._cdp.send("Browser.setDownloadBehavior", self._behavior(context))
            except CDPError:
                self._contexts.discard(context)  # disposed
            except (ConnectionError, TimeoutError):
                return

    def _on_begin(self, params: dict[str, Any], _session_id: str | None) -> None:
        guid = str(params.get("guid", ""))
        if guid:
            self._active[guid] = {"name": safe_name(params.get("suggestedFilename")), "received": 0}

    def _on_progress(self, params: dict[str, Any], _session_id: str | None) -> None:
        guid = str(params.get("guid", ""))
        entry = self._active.get(guid)
        if entry is None:
            return
        state = params.get("state")
        received = int(params.get("receivedBytes") or 0)
        total = int(params.get("totalBytes") or 0)
        if state == "inProgress":
            if entry.get("refused"):
                return
            entry["received"] = received
            others = sum(int(e["received"]) for g, e in self._active.items() if g != guid)
            if self._done_bytes + others + max(received, total) > self.downloads_max_bytes:
                entry["refused"], entry["received"] = True, 0
                self._cancel(guid, entry["name"])
            return
        self._active.pop(guid, None)
        if state != "completed" or entry.get("refused"):  # cancelled, or finished before the cancel
            self._drop(guid)
            return
        if self._done_bytes + received > self.downloads_max_bytes:
            self._drop(guid)
            self.cancelled += 1
            log.warning("session.download_over_limit", name=entry["name"], bytes=received)
            return
        self._done_bytes += received
        source = self.downloads / guid
        if source.exists():  # allowAndName: saved as the guid (a client's "allow" keeps the name)
            with contextlib.suppress(OSError):
                os.replace(source, _unique(self.downloads, entry["name"]))

    def _cancel(self, guid: str, name: str) -> None:
        self.cancelled += 1
        log.warning("session.download_cancelled", name=name, limit=self.downloads_max_bytes)
        if self._cdp is None:
            return
        task = asyncio.ensure_future(self._cdp.send("Browser.cancelDownload", {"guid": guid}))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _drop(self, guid: str) -> None:
        """Remove a download's files. Chromium may still leave an empty file named by the guid
        after it reported the cancel, so that name stays hidden from :meth:`downloaded`."""
        self._dropped.add(guid)
        source = self.downloads / guid
        with contextlib.suppress(OSError):
            source.unlink(missing_ok=True)
            source.with_name(source.name + PARTIAL_SUFFIX).unlink(missing_ok=True)

    async def settle(self) -> None:
        """Take in every download event the browser has sent so far: a file appears in the folder
        (named by its guid) only after ``Browser.downloadWillBegin`` was sent, and the browser
        answers a command after the events it sent before it, so once one round trip is answered a
        guid-named file not in :attr:`_active` is a finished download, not one whose start is
        still on its way (it would otherwise be listed under its guid)."""
        if self._cdp is not None and not self._cdp.closed:
            with contextlib.suppress(CDPError, ConnectionError, TimeoutError):
                await self._cdp.send("Browser.getVersion", timeout_s=SETTLE_TIMEOUT_S)

    def downloaded(self) -> list[Path]:
        """Finished downloads (files still arriving, or dropped, are left out), by name."""
        if not self.downloads.is_dir():
            return []
        busy = self._active.keys() | self._dropped
        return sorted(
            (
                p
                for p in self.downloads.iterdir()
                if p.is_file() and not p.is_symlink() and p.name not in busy and p.suffix != PARTIAL_SUFFIX
            ),
            key=lambda p: p.name,
        )

    def zip_downloads(self) -> bytes:
        return zip_files(self.downloaded())

    def clear_downloads(self) -> int:
        removed = 0
        for path in self.downloaded():
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
        self._done_bytes = 0
        return removed

    # ---------------------------------------------------------------- uploads

    def save_upload(self, name: str | None, source: IO[bytes]) -> Path:
        """Copy an uploaded file into ``uploads/`` (same name: replaced); its absolute path."""
        self.uploads.mkdir(parents=True, exist_ok=True)
        target = self.uploads / safe_name(name, "upload")
        tmp = self.uploads / f".{target.name}.part"
        with tmp.open("wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        tmp.chmod(0o644)  # the browser (its own user, node/sandbox/) reads it; the folder is read-only to it
        os.replace(tmp, target)
        return target

    # ---------------------------------------------------------------- end

    def finish(self) -> dict[str, bytes]:
        """The blobs to keep (``downloads.zip`` if anything was downloaded); the folder removed."""
        try:
            files = self.downloaded()
            return {DOWNLOADS_BLOB: zip_files(files)} if files else {}
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def zip_files(paths: list[Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in paths:
            with contextlib.suppress(OSError):  # never through a link the browser may have made
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                try:
                    archive.write(f"/proc/self/fd/{fd}", arcname=path.name)  # that very file
                finally:
                    os.close(fd)
    return buffer.getvalue()
