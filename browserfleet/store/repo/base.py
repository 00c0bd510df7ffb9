"""The store's base: engine, sessions, and the read/write transactions every query uses.

On SQLite (embedded mode, one process) writes are serialised by an asyncio lock so that a
read-then-write transaction never meets SQLITE_BUSY; readers are never blocked (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Self

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from browserfleet.core.jobs import JobKind, JobState, Route
from browserfleet.store.db import create_engine, migrate
from browserfleet.store.models import JobRow
from browserfleet.store.records import JobRecord
from browserfleet.store.sqlite_driver import OneHopConnection


class StoreBase:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._is_sqlite = engine.dialect.name == "sqlite"
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> Self:
        engine = create_engine(url)
        await migrate(engine)
        return cls(engine)

    async def close(self) -> None:
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

    # Core connections, for the statements on every job's path (no ORM unit of work to run)
    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        """A connection for one cheap read statement: on PostgreSQL in autocommit (no BEGIN and
        ROLLBACK round trips); on SQLite inline, on the loop's thread (a read in WAL mode never
        waits for a writer: store/sqlite_driver.py)."""
        async with self.engine.connect() as conn:
            if not self._is_sqlite:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield conn
                return
            driver = await _inline(conn)
            try:
                yield conn
            finally:
                _no_longer_inline(driver)

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """:meth:`_write` on a Core connection, for a few cheap statements: one transaction,
        serialised on SQLite. Never inline: a write may wait for another process's lock (a CLI
        command) and its commit may checkpoint the WAL, neither of which may stall the loop."""
        lock = self._write_lock if self._is_sqlite else contextlib.nullcontext()
        async with lock, self.engine.begin() as conn:
            yield conn


async def _inline(conn: AsyncConnection) -> OneHopConnection | None:
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if not isinstance(driver, OneHopConnection):
        return None
    driver.inline = True
    return driver


def _no_longer_inline(driver: OneHopConnection | None) -> None:
    if driver is not None:
        driver.inline = False


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
