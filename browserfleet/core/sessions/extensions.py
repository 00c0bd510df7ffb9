"""Extensions: unpacked Chrome extensions a project uploads and its sessions load.

An extension is a row (store: ``extensions``: the file name, what the manifest says, sizes) plus
the validated zip as the blob ``<extension id>/extension.zip`` — the blob store, not the node's
disk, because in distributed mode the node that runs a session is not the one that took the
upload, and every process reaches the blob store. The zip is kept as uploaded (once
core/sessions/extension_archive.py accepted it); a node unpacks it again, through the same validation, into
the session's own temp folder (node/session/extensions.py).

Scoping: every call takes the caller's project; another project's id is 404 (``require``, used
by session create, answers 400 naming the field, as contexts do).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import structlog

from browserfleet.core.accounts import new_id
from browserfleet.core.errors import InvalidRequest, NotFound
from browserfleet.core.sessions.extension_archive import ArchiveLimits, inspect
from browserfleet.store.blobs import BlobStore
from browserfleet.store.records import ExtensionRecord, ProjectRecord
from browserfleet.store.repo import Store

if TYPE_CHECKING:
    from browserfleet.settings import Settings

log = structlog.get_logger(__name__)
BLOB_NAME = "extension.zip"
DEFAULT_FILE_NAME = "extension.zip"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


class Extensions:
    def __init__(self, store: Store, blobs: BlobStore, limits: ArchiveLimits) -> None:
        self.store = store
        self.blobs = blobs
        self.limits = limits

    @classmethod
    def from_settings(cls, store: Store, blobs: BlobStore, settings: Settings) -> Extensions:
        limits = ArchiveLimits(settings.extension_max_bytes, settings.extension_max_files)
        return cls(store, blobs, limits)

    # --- the API's calls ----------------------------------------------------------------------
    async def create(self, project: ProjectRecord, file_name: str | None, data: bytes) -> ExtensionRecord:
        """Validate the zip (400/413), store it, then insert the row (a row never lacks its blob)."""
        manifest = await asyncio.to_thread(inspect, data, self.limits)
        extension_id = new_id("ext")
        await self.blobs.put(extension_id, BLOB_NAME, data)
        try:
            extension = await self.store.create_extension(
                extension_id=extension_id,
                project_id=project.id,
                file_name=clean_file_name(file_name),
                name=manifest.name[:200],
                version=manifest.version,
                manifest_version=manifest.manifest_version,
                blob_name=BLOB_NAME,
                zip_bytes=len(data),
                unpacked_bytes=manifest.unpacked_bytes,
            )
        except BaseException:
            await self.blobs.delete_job(extension_id)  # no blob without its row
            raise
        log.info(
            "extension.uploaded",
            extension_id=extension.id,
            project_id=project.id,
            files=manifest.files,
            zip_bytes=len(data),
            unpacked_bytes=manifest.unpacked_bytes,
        )
        return extension

    async def page(
        self, project: ProjectRecord, *, offset: int, limit: int
    ) -> tuple[list[ExtensionRecord], int]:
        """A page of the project's extensions (newest first) and their count."""
        return await self.store.project_extensions(project.id, offset=offset, limit=limit)

    async def get(self, project: ProjectRecord, extension_id: str) -> ExtensionRecord:
        extension = await self.store.get_extension(extension_id, project.id)
        if extension is None:
            raise NotFound(f"Extension {extension_id} not found")
        return extension

    async def delete(self, project: ProjectRecord, extension_id: str) -> None:
        """Row first, then the blob: a session created before still finds the row gone and fails
        cleanly; one already running keeps its unpacked copy."""
        if not await self.store.delete_extension(extension_id, project.id):
            raise NotFound(f"Extension {extension_id} not found")
        await self.blobs.delete_job(extension_id)

    # --- the sessions' calls ------------------------------------------------------------------
    async def require(self, project: ProjectRecord, extension_id: str, field: str) -> ExtensionRecord:
        """The project's extension for a new session; 400 naming ``field`` otherwise."""
        extension = await self.store.get_extension(extension_id, project.id)
        if extension is None:
            message = f"Extension {extension_id} not found"
            raise InvalidRequest(f"{field}: {message}", details=[{"field": field, "message": message}])
        return extension

    async def load_zip(self, project_id: str, extension_id: str) -> bytes:
        """The stored zip of ``project_id``'s extension (the node's call); LookupError if gone."""
        extension = await self.store.get_extension(extension_id, project_id)
        if extension is None:
            raise LookupError(
                f"extension {extension_id} no longer exists (deleted after the session was created)"
            )
        data = await self.blobs.get(extension.id, extension.blob_name)
        if data is None:
            raise LookupError(f"the zip of extension {extension_id} is missing from the blob store")
        return data


def clean_file_name(file_name: str | None) -> str:
    """The upload's base name without control characters (``extension.zip`` when none)."""
    base = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("", base).strip()[:255]
    return base or DEFAULT_FILE_NAME
