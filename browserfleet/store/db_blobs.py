"""The database blob store: blobs every process of a distributed fleet can read.

Nodes write what their jobs produced (HTML, screenshots, fetch captures, videos, session logs and
recordings, downloads) and control planes read it back, through the shared PostgreSQL. Chosen by
the ``blob_backend`` setting (``auto``: this store when distributed, files otherwise).
"""

from __future__ import annotations

import re

from browserfleet.store.blobs import BlobStore
from browserfleet.store.repo import Store

_SAFE_PART = re.compile(r"^[A-Za-z0-9_.-]+$")


def _check(owner_id: str, name: str) -> None:
    if not _SAFE_PART.match(owner_id) or not _SAFE_PART.match(name):
        raise ValueError(f"unsafe blob key: {owner_id!r}/{name!r}")


class DatabaseBlobStore(BlobStore):
    def __init__(self, store: Store) -> None:
        self.store = store

    async def put(self, job_id: str, name: str, data: bytes) -> None:
        _check(job_id, name)
        await self.store.put_blob(job_id, name, data)

    async def get(self, job_id: str, name: str) -> bytes | None:
        _check(job_id, name)
        return await self.store.get_blob(job_id, name)

    async def delete(self, job_id: str, name: str) -> None:
        _check(job_id, name)
        await self.store.delete_blob(job_id, name)

    async def delete_job(self, job_id: str) -> None:
        _check(job_id, "x")
        await self.store.delete_blobs_of(job_id)
