"""A short-lived, bounded memory of the blobs this process just wrote, in front of a blob store.

A render's HTML is written by the node and read back at once by whoever waits for it (the long
poll of ``GET /v1/renders/{id}``, in the same process in embedded mode); after that first answer
the read path serves the encoded result from memory (api/finished.py) and the blob is seldom read
again. :class:`RecentBlobs` keeps each blob it writes for ``max_age_s`` (at most ``max_bytes`` in
all, oldest out first), so that first read costs no file: the very bytes written are returned.
Writes still go to the store underneath before :meth:`put` returns (nothing is kept only here);
deletes reach both.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from browserfleet.store.blobs import BlobStore

MAX_AGE_S = 10.0
MAX_BYTES = 32 * 1024 * 1024


class RecentBlobs(BlobStore):
    """``inner``, with the blobs written in the last ``max_age_s`` also kept in memory."""

    def __init__(self, inner: BlobStore, *, max_age_s: float = MAX_AGE_S, max_bytes: int = MAX_BYTES) -> None:
        self.inner = inner
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self._kept: OrderedDict[tuple[str, str], tuple[float, bytes]] = OrderedDict()  # oldest first
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        """Forget every blob kept (the store underneath keeps them all)."""
        self._kept.clear()
        self._bytes = 0

    async def put(self, job_id: str, name: str, data: bytes) -> None:
        self._forget(job_id, name)  # a reader never gets the old bytes once the new are written
        await self.inner.put(job_id, name, data)
        self._keep((job_id, name), data)

    async def get(self, job_id: str, name: str) -> bytes | None:
        self._expire()
        kept = self._kept.get((job_id, name))
        if kept is not None:
            return kept[1]
        return await self.inner.get(job_id, name)

    async def delete(self, job_id: str, name: str) -> None:
        self._forget(job_id, name)
        await self.inner.delete(job_id, name)

    async def delete_job(self, job_id: str) -> None:
        for key in [key for key in self._kept if key[0] == job_id]:
            self._forget(*key)
        await self.inner.delete_job(job_id)

    def _keep(self, key: tuple[str, str], data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        self._forget(*key)
        self._kept[key] = (time.monotonic() + self.max_age_s, data)
        self._bytes += len(data)
        while self._bytes > self.max_bytes:
            self._forget(*next(iter(self._kept)))
        self._expire()

    def _forget(self, job_id: str, name: str) -> None:
        kept = self._kept.pop((job_id, name), None)
        if kept is not None:
            self._bytes -= len(kept[1])

    def _expire(self) -> None:
        now = time.monotonic()
        while self._kept:
            key, (expires, _data) = next(iter(self._kept.items()))
            if expires > now:
                return
            self._forget(*key)
