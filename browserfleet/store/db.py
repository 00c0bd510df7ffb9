"""Engine creation and schema migration (Alembic, run in-process at start-up)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import URL, Connection, Dialect, event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from browserfleet.store.private import FILE_MODE, create_private_file, make_private
from browserfleet.store.sqlite_driver import OneHopConnection, connect_one_hop
from browserfleet.store.sqlite_lane import SQLiteLane

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_S = 30  # how long a SQLite statement waits for another connection's lock
PING_IDLE_S = 10.0  # a pooled PostgreSQL connection idle this long is pinged before it is used
_IDLE_SINCE = "browserfleet_idle_since"


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite files get WAL, a busy timeout and foreign keys, and are private
    (store/private.py: created 0600 before SQLite opens them — its WAL and SHM files take the
    database's mode — and narrowed to 0600 if an existing one is more open)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            database = Path(parsed.database)
            database.parent.mkdir(parents=True, exist_ok=True)
            create_private_file(database)
            for suffix in ("-wal", "-shm", "-journal"):
                make_private(database.with_name(database.name + suffix), FILE_MODE)
        engine: AsyncEngine = create_async_engine(url, async_creator=lambda: _open_sqlite(engine))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_async_engine(url, pool_size=10, max_overflow=20)
    event.listen(engine.sync_engine, "connect", _mark_idle)
    event.listen(engine.sync_engine, "checkin", _mark_idle)
    event.listen(engine.sync_engine, "checkout", _alive_check(engine.dialect))
    return engine


async def _open_sqlite(engine: AsyncEngine) -> OneHopConnection:
    """A connection to the engine's database as SQLAlchemy would open it, with the busy timeout,
    on the one-hop driver (store/sqlite_driver.py)."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    return await connect_one_hop(*args, **{**kwargs, "timeout": BUSY_TIMEOUT_S})


def _mark_idle(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _alive_check(dialect: Dialect) -> Callable[[Any, ConnectionPoolEntry, PoolProxiedConnection], None]:
    """Pre-ping without a round trip per checkout (SQLAlchemy's ``pool_pre_ping`` costs three on
    asyncpg: BEGIN, a ping, ROLLBACK — on every job's claim). A server restart or a terminated
    backend closes the socket, which asyncpg notices at once: such a connection, and every other
    pooled one (the server went away), is replaced before use. A connection idle for
    ``PING_IDLE_S`` (a firewall may have dropped it silently) still gets a real ping."""

    def check(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        if dbapi_connection.driver_connection.is_closed():
            raise exc.InvalidatePoolError("the connection was closed by the server")
        if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < PING_IDLE_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError("the connection failed its ping") from error
            raise

    return check


def sqlite_lane(url: URL) -> SQLiteLane | None:
    """The job path's lane to the SQLite file at ``url`` (None in memory: a second connection
    would be a second database)."""
    if not url.database or url.database == ":memory:":
        return None
    return SQLiteLane(url, _sqlite_pragmas, busy_timeout_s=BUSY_TIMEOUT_S)


def _sqlite_pragmas(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        f"busy_timeout={BUSY_TIMEOUT_S * 1000}",
        "foreign_keys=ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


MIGRATION_LOCK = 7_270_001  # PostgreSQL advisory lock: processes starting together migrate in turn


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the only way tables are ever created). On PostgreSQL the
    processes of a distributed fleet may start at once: they take turns (an advisory lock held
    until the migration commits), and the later ones find nothing left to do."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
