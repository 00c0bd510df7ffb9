"""The store's base: engine, sessions, and the read/write transactions every query uses.

On SQLite (embedded mode, one process) writes are serialised by an asyncio lock so that a
read-then-write transaction never meets SQLITE_BUSY; readers are never blocked (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, Self, TypeVar

from sqlalchemy import Connection, Row
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from browserfleet.core.jobs import JobKind, JobState, Route
from browserfleet.store.db import create_engine, migrate, sqlite_lane
from browserfleet.store.models import JobRow
from browserfleet.store.records import JobRecord

T = TypeVar("T")


class StoreBase:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock()
        self._lane = sqlite_lane(engine.url) if self._is_sqlite else None

    @classmethod
    async def open(cls, url: str) -> Self:
        engine = create_engine(url)
        await migrate(engine)
        return cls(engine)

    async def close(self) -> None:
        if self._lane is not None:
            self._lane.close()
        await self.engine.dispose()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        lock = self._write_lock if self._is_sqlite else contextlib.nullcontext()
        async with lock, self._sessions() as session, session.begin():
            yield session

    # The statements on every job's path: Core, as functions of a synchronous connection
    async def _read_now(self, body: Callable[[Connection], T]) -> T:
        """``body`` for one cheap read: on SQLite inline, on the loop's thread (store/sqlite_lane.py);
        on PostgreSQL in autocommit (no BEGIN and ROLLBACK round trips)."""
        if self._lane is not None:
            return self._lane.read(body)
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await conn.run_sync(body)

    async def _write_now(self, body: Callable[[Connection], T], *, one_statement: bool = False) -> T:
        """``body`` in one write transaction, serialised on SQLite, where it runs on the lane's
        writer thread (one hop, its waits off the loop). ``one_statement``: atomic on its own, so
        PostgreSQL runs it in autocommit."""
        if self._lane is not None:
            async with self._write_lock:
                return await self._lane.write(body)
        if one_statement:
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                return await conn.run_sync(body)
        async with self.engine.begin() as conn:
            return await conn.run_sync(body)


def _job(row: JobRow | Row[Any]) -> JobRecord:
    """A job's record, from its ORM row or a plain row of the ``jobs`` columns."""
    return JobRecord(
        id=row.id,
        project_id=row.project_id,
        kind=JobKind(row.kind),
        state=JobState(row.state),
        route=Route.from_dict(row.route),
        spec=row.spec,
        result=row.result,
        error_code=row.error_code,
        error_message=row.error_message,
        billable=row.billable,
        charged_cents=row.charged_cents,
        attempts=row.attempts,
        node_id=row.node_id,
        keep_blobs_days=row.keep_blobs_days,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        blobs_purged=row.blobs_purged,
    )


def _utc(moment: datetime) -> datetime:
    """Aggregates (min, max) bypass the column type: SQLite hands back naive UTC datetimes (or
    text)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
