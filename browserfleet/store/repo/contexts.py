"""Contexts: saved browser profiles (the profile itself is a blob)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from browserfleet.core.jobs import utcnow
from browserfleet.store.models import ContextRow
from browserfleet.store.records import ContextRecord
from browserfleet.store.repo.base import StoreBase


class ContextQueries(StoreBase):
    async def create_context(
        self, *, context_id: str, project_id: str, name: str | None, wrapped_private_key: str
    ) -> ContextRecord:
        now = utcnow()
        row = ContextRow(
            id=context_id,
            project_id=project_id,
            name=name,
            wrapped_private_key=wrapped_private_key,
            data_bytes=0,
            created_at=now,
            updated_at=now,
        )
        async with self._write() as session:
            session.add(row)
        return _context(row)

    async def get_context(self, context_id: str, project_id: str | None = None) -> ContextRecord | None:
        """The context, or None if unknown (or not ``project_id``'s when given)."""
        async with self._read() as session:
            row = await session.get(ContextRow, context_id)
        if row is None or (project_id is not None and row.project_id != project_id):
            return None
        return _context(row)

    async def update_context(self, context_id: str, **fields: Any) -> ContextRecord | None:
        """Set ``fields`` (and ``updated_at``); None if the context no longer exists."""
        async with self._write() as session:
            query = select(ContextRow).where(ContextRow.id == context_id).with_for_update()
            row = await session.scalar(query)
            if row is None:
                return None
            for name, value in fields.items():
                setattr(row, name, value)
            row.updated_at = utcnow()
        return _context(row)

    async def delete_context(self, context_id: str, project_id: str) -> bool:
        async with self._write() as session:
            result = await session.execute(
                delete(ContextRow).where(ContextRow.id == context_id, ContextRow.project_id == project_id)
            )
        return bool(getattr(result, "rowcount", 0))

    async def project_contexts(
        self, project_id: str, *, offset: int, limit: int
    ) -> tuple[list[ContextRecord], int]:
        """A page of the project's rows, newest first, and how many it has in all."""
        where = ContextRow.project_id == project_id
        query = select(ContextRow).where(where).order_by(ContextRow.created_at.desc(), ContextRow.id)
        async with self._read() as session:
            total = int(await session.scalar(select(func.count()).select_from(ContextRow).where(where)) or 0)
            rows = await session.scalars(query.offset(offset).limit(limit))
            return [_context(r) for r in rows], total


def _context(row: ContextRow) -> ContextRecord:
    return ContextRecord(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        wrapped_private_key=row.wrapped_private_key,
        upload_token_hash=row.upload_token_hash,
        upload_expires_at=row.upload_expires_at,
        blob_name=row.blob_name,
        data_bytes=row.data_bytes,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
