"""Blobs in the database (distributed mode's blob store, store/db_blobs.py)."""

from __future__ import annotations

from sqlalchemy import delete, select

from browserfleet.core.jobs import utcnow
from browserfleet.store.models import BlobRow
from browserfleet.store.repo.base import StoreBase


class BlobQueries(StoreBase):
    async def put_blob(self, owner_id: str, name: str, data: bytes) -> None:
        """Insert or replace, in one transaction (a reader sees the old blob or the new one)."""
        async with self._write() as session:
            await session.execute(delete(BlobRow).where(BlobRow.owner_id == owner_id, BlobRow.name == name))
            session.add(BlobRow(owner_id=owner_id, name=name, data=data, size=len(data), created_at=utcnow()))

    async def get_blob(self, owner_id: str, name: str) -> bytes | None:
        query = select(BlobRow.data).where(BlobRow.owner_id == owner_id, BlobRow.name == name)
        async with self._read() as session:
            data = await session.scalar(query)
        return bytes(data) if data is not None else None

    async def delete_blob(self, owner_id: str, name: str) -> None:
        async with self._write() as session:
            await session.execute(delete(BlobRow).where(BlobRow.owner_id == owner_id, BlobRow.name == name))

    async def delete_blobs_of(self, owner_id: str) -> None:
        async with self._write() as session:
            await session.execute(delete(BlobRow).where(BlobRow.owner_id == owner_id))
