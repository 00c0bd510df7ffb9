"""Blob storage: HTML, screenshots, fetch captures, later videos and recordings.

Keys are ``<job_id>/<name>``. Embedded mode keeps files under the data folder; a distributed
deployment plugs in a store every process can reach (implement :class:`BlobStore`).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from abc import ABC, abstractmethod
from pathlib import Path

from browserfleet.store.private import DIR_MODE, make_private, private_dir, write_private

_SAFE_PART = re.compile(r"^[A-Za-z0-9_.-]+$")


class BlobStore(ABC):
    """Contract: ``put`` is atomic (a reader sees the whole blob or none); ``get`` of a missing
    key returns None; ``delete`` removes one blob and ``delete_job`` every blob of a job, both
    idempotent."""

    @abstractmethod
    async def put(self, job_id: str, name: str, data: bytes) -> None: ...

    @abstractmethod
    async def get(self, job_id: str, name: str) -> bytes | None: ...

    @abstractmethod
    async def delete(self, job_id: str, name: str) -> None: ...

    @abstractmethod
    async def delete_job(self, job_id: str) -> None: ...


class FileBlobStore(BlobStore):
    """Files under ``root``, private to the server's user (0600 files, 0700 folders: a root left
    more open is narrowed at start, store/private.py)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        private_dir(root)
        make_private(root, DIR_MODE)

    def _dir(self, job_id: str) -> Path:
        if not _SAFE_PART.match(job_id):
            raise ValueError(f"unsafe blob key: {job_id!r}")
        return self.root / job_id[-2:] / job_id

    def _path(self, job_id: str, name: str) -> Path:
        if not _SAFE_PART.match(name):
            raise ValueError(f"unsafe blob name: {name!r}")
        return self._dir(job_id) / name

    async def put(self, job_id: str, name: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(job_id, name), data)

    async def get(self, job_id: str, name: str) -> bytes | None:
        path = self._path(job_id, name)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, job_id: str, name: str) -> None:
        await asyncio.to_thread(self._path(job_id, name).unlink, True)

    async def delete_job(self, job_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, self._dir(job_id), True)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        private_dir(path.parent)
        tmp = path.with_suffix(path.suffix + ".tmp")
        write_private(tmp, data)
        os.replace(tmp, path)
