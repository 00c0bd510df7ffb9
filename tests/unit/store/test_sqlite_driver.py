"""The SQLite connection with one thread hop per statement (store/sqlite_driver.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text

from browserfleet.store.db import create_engine
from browserfleet.store.repo import Store
from tests.support.stores import new_project, sqlite_url


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every call made on a connection's thread, as it is made."""
    made: list[str] = []
    real = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(fn, "__name__", type(fn).__name__))
        return await real(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return made


async def test_a_statement_is_one_hop_and_a_read_needs_no_rollback(tmp_path: Path, hops: list[str]) -> None:
    store = await Store.open(sqlite_url(tmp_path))
    try:
        project = await new_project(store, credit={"paid": 3})
        hops.clear()
        assert await store.balance(project.id) == {"free": 0, "bonus": 0, "paid": 3}
        assert hops == ["_run"]  # execute, fetch and close in one call; nothing to roll back

        hops.clear()
        await store.add_ledger_entry(project.id, "bonus", 2, "bonus credit")
        # the balances locked, the ledger entry, the bonus row looked up and added; the commit
        assert hops == ["_run", "_run", "_run", "_run", "commit"]
    finally:
        await store.close()


async def test_counts_rows_and_a_rolled_back_write(tmp_path: Path, hops: list[str]) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"))
            done = await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "a"}, {"n": "b"}])
            assert done.rowcount == 2
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (name) VALUES ('c')"))
                raise RuntimeError("the caller gives up")
        hops.clear()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 2  # rolled back
        assert hops == ["_run"]
    finally:
        await engine.dispose()


async def test_a_streamed_result_gives_every_row(tmp_path: Path) -> None:
    engine = create_engine(sqlite_url(tmp_path))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE n (v INTEGER)"))
            await conn.execute(text("INSERT INTO n (v) VALUES (:v)"), [{"v": v} for v in range(300)])
        async with engine.connect() as conn:
            streamed = await conn.stream(text("SELECT v FROM n ORDER BY v"))
            assert [row[0] async for row in streamed] == list(range(300))
    finally:
        await engine.dispose()
