"""Extensions: uploaded Chrome extensions (the zip itself is a blob)."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from browserfleet.core.jobs import utcnow
from browserfleet.store.models import ExtensionRow
from browserfleet.store.records import ExtensionRecord
from browserfleet.store.repo.base import StoreBase


class ExtensionQueries(StoreBase):
    async def create_extension(
        self,
        *,
        extension_id: str,
        project_id: str,
        file_name: str,
        name: str,
        version: str,
        manifest_version: int,
        blob_name: str,
        zip_bytes: int,
        unpacked_bytes: int,
    ) -> ExtensionRecord:
        now = utcnow()
        row = ExtensionRow(
            id=extension_id,
            project_id=project_id,
            file_name=file_name,
            name=name,
            version=version,
            manifest_version=manifest_version,
            blob_name=blob_name,
            zip_bytes=zip_bytes,
            unpacked_bytes=unpacked_bytes,
            created_at=now,
            updated_at=now,
        )
        async with self._write() as session:
            session.add(row)
        return _extension(row)

    async def get_extension(self, extension_id: str, project_id: str | None = None) -> ExtensionRecord | None:
        """The extension, or None if unknown (or not ``project_id``'s when given)."""
        async with self._read() as session:
            row = await session.get(ExtensionRow, extension_id)
        if row is None or (project_id is not None and row.project_id != project_id):
            return None
        return _extension(row)

    async def delete_extension(self, extension_id: str, project_id: str) -> bool:
        async with self._write() as session:
            result = await session.execute(
                delete(ExtensionRow).where(
                    ExtensionRow.id == extension_id, ExtensionRow.project_id == project_id
                )
            )
        return bool(getattr(result, "rowcount", 0))

    async def project_extensions(
        self, project_id: str, *, offset: int, limit: int
    ) -> tuple[list[ExtensionRecord], int]:
        """A page of the project's rows, newest first, and how many it has in all."""
        where = ExtensionRow.project_id == project_id
        query = select(ExtensionRow).where(where).order_by(ExtensionRow.created_at.desc(), ExtensionRow.id)
        async with self._read() as session:
            total = int(
                await session.scalar(select(func.count()).select_from(ExtensionRow).where(where)) or 0
            )
            rows = await session.scalars(query.offset(offset).limit(limit))
            return [_extension(r) for r in rows], total


def _extension(row: ExtensionRow) -> ExtensionRecord:
    return ExtensionRecord(
        id=row.id,
        project_id=row.project_id,
        file_name=row.file_name,
        name=row.name,
        version=row.version,
        manifest_version=row.manifest_version,
        blob_name=row.blob_name,
        zip_bytes=row.zip_bytes,
        unpacked_bytes=row.unpacked_bytes,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
