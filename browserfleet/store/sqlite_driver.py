"""aiosqlite with one thread hop per statement: the SQLite connection every engine opens.

aiosqlite runs each sqlite3 call on the connection's own thread, and every call is a hop there and
back (a queue put, a wake-up of the event loop: ~50 µs of CPU on the 2-core machine). SQLAlchemy's
adapter makes four per statement (open a cursor, execute, fetch, close) and one more for the
rollback that ends every checkout, a read's included. :class:`OneHopConnection` executes, fetches
every row and closes the sqlite3 cursor in one call, and skips a commit or rollback when no
transaction is open (pysqlite begins one only before a write; reading ``in_transaction`` from the
loop's thread is what aiosqlite's own property does). What SQLite does is unchanged: the same
statements, in the same transactions.

The job path's statements do not come this way on SQLite: store/sqlite_lane.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any, Self

import aiosqlite

_Outcome = tuple[Any, int, int | None, list[Any]]  # description, rowcount, lastrowid, rows


async def connect_one_hop(database: str, **kwargs: Any) -> OneHopConnection:
    """Open ``database`` as :func:`sqlite3.connect` would with ``kwargs``, on its own thread."""
    connection = OneHopConnection(partial(sqlite3.connect, database, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy's adapter does: never hold the process open
    await connection
    return connection


class OneHopConnection(aiosqlite.Connection):
    """An :class:`aiosqlite.Connection` whose cursors cost one hop per statement."""

    def cursor(self) -> _CursorContext:  # type: ignore[override]
        return _CursorContext(OneHopCursor(self))

    async def commit(self) -> None:
        if self._connection is not None and self._connection.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self._connection is not None and self._connection.in_transaction:
            await super().rollback()

    async def run(self, sql: str, parameters: Any, *, many: bool = False) -> _Outcome:
        """Execute ``sql`` on the connection's thread; its description, counts and every row."""
        return await self._execute(_run, self._conn, sql, parameters, many)  # type: ignore[no-untyped-call,no-any-return]


def _run(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> _Outcome:
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor:
    """The part of :class:`aiosqlite.Cursor` SQLAlchemy uses, with the rows fetched up front."""

    arraysize = 1

    def __init__(self, connection: OneHopConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Self:
        outcome = await self._connection.run(sql, () if parameters is None else parameters)
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Self:
        outcome = await self._connection.run(sql, parameters, many=True)
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def fetchone(self) -> Any | None:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = self.arraysize if size is None else size
        taken, self._rows = self._rows[:count], self._rows[count:]
        return taken

    async def fetchall(self) -> Sequence[Any]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []


class _CursorContext:
    """What ``connection.cursor()`` returns in aiosqlite: awaitable, and an async context."""

    def __init__(self, cursor: OneHopCursor) -> None:
        self._cursor = cursor

    def __await__(self) -> Any:
        return self._enter().__await__()

    async def _enter(self) -> OneHopCursor:
        return self._cursor

    async def __aenter__(self) -> OneHopCursor:
        return self._cursor

    async def __aexit__(self, *_exc: object) -> None:
        await self._cursor.close()
