"""Projects, API keys and the balance ledger."""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from sqlalchemy import Connection, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from browserfleet.core.errors import Conflict
from browserfleet.core.jobs import utcnow
from browserfleet.store.models import (
    ApiKeyRow,
    BalanceRow,
    LedgerRow,
    ProjectRow,
)
from browserfleet.store.records import ApiKeyRecord, ProjectRecord
from browserfleet.store.repo.base import StoreBase

LEDGER_KINDS = ("free", "bonus", "paid")  # spending order


class AccountQueries(StoreBase):
    async def create_project(
        self, *, project_id: str, name: str, concurrency: int, timeout_s: int, quota: int | None
    ) -> ProjectRecord:
        row = ProjectRow(
            id=project_id,
            name=name,
            concurrency_limit=concurrency,
            default_timeout_s=timeout_s,
            monthly_quota=quota,
            created_at=utcnow(),
        )
        try:
            async with self._write() as session:
                session.add(row)
        except IntegrityError as exc:
            raise Conflict(f"Project {name!r} already exists") from exc
        return _project(row)

    async def project_by_name(self, name: str) -> ProjectRecord | None:
        async with self._read() as session:
            row = await session.scalar(select(ProjectRow).where(ProjectRow.name == name))
        return _project(row) if row else None

    async def projects(self) -> list[ProjectRecord]:
        async with self._read() as session:
            rows = await session.scalars(select(ProjectRow).order_by(ProjectRow.created_at))
        return [_project(r) for r in rows]

    async def add_api_key(self, key_id: str, project_id: str, key_hash: str, prefix: str) -> None:
        async with self._write() as session:
            session.add(
                ApiKeyRow(
                    id=key_id, project_id=project_id, key_hash=key_hash, prefix=prefix, created_at=utcnow()
                )
            )

    async def count_api_keys(self) -> int:
        async with self._read() as session:
            return int(await session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)

    async def project_for_key(self, key_hash: str) -> ProjectRecord | None:
        query = (
            select(ProjectRow)
            .join(ApiKeyRow, ApiKeyRow.project_id == ProjectRow.id)
            .where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None))
        )
        async with self._read() as session:
            row = await session.scalar(query)
        return _project(row) if row else None

    async def project_by_id(self, project_id: str) -> ProjectRecord | None:
        async with self._read() as session:
            row = await session.get(ProjectRow, project_id)
        return _project(row) if row else None

    async def api_keys(self, project_id: str) -> list[ApiKeyRecord]:
        """The project's keys (revoked ones too), newest first."""
        query = (
            select(ApiKeyRow).where(ApiKeyRow.project_id == project_id).order_by(ApiKeyRow.created_at.desc())
        )
        async with self._read() as session:
            rows = await session.scalars(query)
            return [
                ApiKeyRecord(r.id, r.project_id, r.key_hash, r.prefix, r.created_at, r.revoked_at)
                for r in rows
            ]

    async def revoke_api_key(self, project_id: str, key_id: str) -> str | None:
        """Revoke the project's key ``key_id``: its hash, or None if the project has no such live key."""
        async with self._write() as session:
            row = await session.get(ApiKeyRow, key_id)
            if row is None or row.project_id != project_id or row.revoked_at is not None:
                return None
            row.revoked_at = utcnow()
            return row.key_hash

    async def update_project_limits(self, project_id: str, *, concurrency: int, timeout_s: int) -> None:
        query = (
            update(ProjectRow)
            .where(ProjectRow.id == project_id)
            .values(concurrency_limit=concurrency, default_timeout_s=timeout_s)
        )
        async with self._write() as session:
            await session.execute(query)

    # --- ledger -------------------------------------------------------------------------------
    async def add_ledger_entry(self, project_id: str, kind: str, cents: int, reason: str) -> None:
        async with self._write() as session:
            await _lock_balances(session, project_id)
            await _post(session, project_id, kind, cents, reason, None)

    async def balance(self, project_id: str) -> dict[str, int]:
        async with self._read() as session:
            rows = await session.scalars(select(BalanceRow).where(BalanceRow.project_id == project_id))
            return _by_kind(rows)


def _by_kind(rows: Iterable[BalanceRow]) -> dict[str, int]:
    found = {row.kind: row.cents for row in rows}
    return {kind: found.get(kind, 0) for kind in LEDGER_KINDS}


def _project(row: ProjectRow) -> ProjectRecord:
    return ProjectRecord(
        id=row.id,
        name=row.name,
        concurrency_limit=row.concurrency_limit,
        default_timeout_s=row.default_timeout_s,
        monthly_quota=row.monthly_quota,
        created_at=row.created_at,
    )


async def _lock_balances(session: AsyncSession, project_id: str) -> dict[str, BalanceRow]:
    """The project's balance rows, locked (PostgreSQL) so concurrent charges take turns."""
    query = select(BalanceRow).where(BalanceRow.project_id == project_id).with_for_update()
    return {row.kind: row for row in await session.scalars(query)}


async def _post(
    session: AsyncSession, project_id: str, kind: str, cents: int, reason: str, job_id: str | None
) -> None:
    """Write a ledger entry and move the running balance with it."""
    session.add(
        LedgerRow(
            project_id=project_id,
            kind=kind,
            cents=cents,
            charge_job_id=job_id,
            reason=reason,
            created_at=utcnow(),
        )
    )
    row = await session.get(BalanceRow, (project_id, kind))
    if row is None:
        session.add(BalanceRow(project_id=project_id, kind=kind, cents=cents))
    else:
        row.cents += cents


def _charge(conn: Connection | Session, project_id: str, job_id: str) -> int:
    """Take one cent from the first kind with money left (free, then bonus, then paid): the
    project's balance rows locked (PostgreSQL: concurrent charges take turns), a ledger entry and
    the running balance moved — Core statements, on a job's finish."""
    found = conn.execute(_LOCKED_BALANCES, {"bal_project": project_id})
    cents = {str(kind): int(amount) for kind, amount in found}
    kind = next((k for k in LEDGER_KINDS if cents.get(k, 0) > 0), None)
    if kind is None:
        return 0
    entry = {"project_id": project_id, "kind": kind, "cents": -1, "charge_job_id": job_id}
    conn.execute(_LEDGER_INSERT, {**entry, "reason": "render", "created_at": utcnow()})
    conn.execute(_BALANCE_DEBIT, {"bal_project": project_id, "bal_kind": kind})
    return 1


_BALANCES = cast(Table, BalanceRow.__table__)
_LOCKED_BALANCES = (
    select(_BALANCES.c.kind, _BALANCES.c.cents)
    .where(_BALANCES.c.project_id == bindparam("bal_project"))
    .with_for_update()
)
_LEDGER_INSERT = insert(cast(Table, LedgerRow.__table__))
_BALANCE_DEBIT = (
    update(_BALANCES)
    .where(_BALANCES.c.project_id == bindparam("bal_project"), _BALANCES.c.kind == bindparam("bal_kind"))
    .values(cents=_BALANCES.c.cents - 1)
)
