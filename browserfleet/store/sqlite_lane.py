"""The job path's way to a SQLite database: :class:`SQLiteLane`.

The statements on every job's path (insert, get, admission, claim, finish with its charge) are
SQLAlchemy Core, written once as functions of a synchronous :class:`~sqlalchemy.engine.Connection`
(store/repo/jobs.py). Through the async engine every call on a connection is a greenlet switch and
a hop to aiosqlite's thread and back; a render's five transactions made some twenty of each. On
SQLite the lane runs those functions on a synchronous engine of the same database file instead:

* a read inline, on the event loop's thread (in WAL mode a reader never waits for a writer);
* a write transaction whole on the lane's one writer thread: one hop per transaction, and a lock
  wait (a management command of the CLI writing) or a WAL checkpoint at its commit stalls that
  thread, never the loop.

Writes stay serialised with the async engine's by the store's write lock (store/repo/base.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, create_engine, event
from sqlalchemy.pool import SingletonThreadPool

__all__ = ["SQLiteLane"]

T = TypeVar("T")


class SQLiteLane:
    """Synchronous Core work on one SQLite file: :meth:`read` inline, :meth:`write` off the loop."""

    def __init__(self, url: URL, on_connect: Callable[[Any, Any], None], *, busy_timeout_s: float) -> None:
        """``url``: the database (any SQLite driver name); ``on_connect``: the engine's pragmas;
        ``busy_timeout_s``: how long a statement waits for another connection's lock."""
        self._engine = create_engine(
            url.set(drivername="sqlite"),
            poolclass=SingletonThreadPool,  # one connection per thread: the loop's, the writer's
            connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
        )
        event.listen(self._engine, "connect", on_connect)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-lane")

    def read(self, body: Callable[[Connection], T]) -> T:
        """``body(connection)`` now, on the calling thread, outside any transaction."""
        with self._engine.connect() as conn:
            return body(conn)

    async def write(self, body: Callable[[Connection], T]) -> T:
        """``body(connection)`` in one transaction on the writer thread (an exception rolls it
        back and is raised here)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._transaction, body)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._engine.dispose()

    def _transaction(self, body: Callable[[Connection], T]) -> T:
        with self._engine.begin() as conn:
            return body(conn)
