"""The job path's lane to SQLite (store/sqlite_lane.py): reads inline, each write transaction in
one hop to the lane's writer thread, a lock wait there and not on the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from browserfleet.core.errors import IllegalTransition
from browserfleet.core.jobs import JobKind, JobState
from browserfleet.store import sqlite_lane
from browserfleet.store.records import JobOutcome
from browserfleet.store.repo import Store
from tests.support.stores import new_job, new_project, sqlite_url


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The thread each of the lane's transactions ran on, and ``aiosqlite`` for every call made
    through the async engine's connections instead."""
    ran: list[str] = []
    real_transaction = sqlite_lane.SQLiteLane._transaction
    real_execute = aiosqlite.Connection._execute

    def transaction(self: sqlite_lane.SQLiteLane, body: Callable[[Any], Any]) -> Any:
        ran.append(threading.current_thread().name)
        return real_transaction(self, body)

    async def execute(self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        ran.append("aiosqlite")
        return await real_execute(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(sqlite_lane.SQLiteLane, "_transaction", transaction)
    monkeypatch.setattr(aiosqlite.Connection, "_execute", execute)
    return ran


async def test_a_job_s_path_is_one_hop_per_write_and_none_per_read(
    tmp_path: Path, threads: list[str]
) -> None:
    store = await Store.open(sqlite_url(tmp_path))
    try:
        project = await new_project(store, credit={"paid": 3})
        threads.clear()
        job = await new_job(store, project.id)
        assert await store.admission_counts(project.id, JobKind.RENDER) == (1, 3)
        assert await store.get_job(job.id) == job
        claimed = await store.claim_job(job.id, "node-a")
        assert claimed is not None and claimed.state is JobState.RUNNING and claimed.attempts == 1
        outcome = JobOutcome(JobState.COMPLETED, result={"ok": True}, billable=True)
        finished = await store.finish_attempt(job.id, outcome, claimed.attempts)
        assert finished is not None and finished.charged_cents == 1 and finished.result == {"ok": True}
        # insert, claim, finish with its charge: one hop each to the lane's thread; reads none
        assert len(threads) == 3 and all(name.startswith("sqlite-lane") for name in threads), threads

        paid_2 = {"free": 0, "bonus": 0, "paid": 2}
        assert await store.balance(project.id) == paid_2  # read by the async engine
        assert await store.finish_attempt(job.id, outcome, claimed.attempts) is None  # once only
        assert await store.balance(project.id) == paid_2
    finally:
        await store.close()


async def test_a_failed_finish_rolls_back_and_raises_here(tmp_path: Path) -> None:
    store = await Store.open(sqlite_url(tmp_path))
    try:
        project = await new_project(store, credit={"paid": 1})
        job = await new_job(store, project.id)
        with pytest.raises(IllegalTransition):  # queued → completed: not a move the machine allows
            await store.finish_attempt(job.id, JobOutcome(JobState.COMPLETED, billable=True), 0)
        with pytest.raises(IllegalTransition, match="does not exist"):
            await store.finish_attempt("ren_missing", JobOutcome(JobState.FAILED), 1)
        assert (await store.get_job(job.id)) == job
        assert await store.balance(project.id) == {"free": 0, "bonus": 0, "paid": 1}
    finally:
        await store.close()


async def test_a_write_waiting_for_another_process_s_lock_leaves_the_loop_free(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    store = await Store.open(url)
    try:
        project = await new_project(store)
        job = await new_job(store, project.id)
        other = sqlite3.connect(tmp_path / "store.db", isolation_level=None)  # a CLI command, say
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        try:
            claim = asyncio.create_task(store.claim_job(job.id, "node-a"))
            ticks, started = 0, time.monotonic()
            while time.monotonic() - started < 0.5:  # the loop keeps turning meanwhile …
                await asyncio.sleep(0.01)
                ticks += 1
            assert await store.get_job(job.id) == job  # … and reading, inline
            assert not claim.done() and ticks >= 25
        finally:
            other.execute("COMMIT")
            other.close()
        claimed = await asyncio.wait_for(claim, 5)  # the lock released: the claim goes through
        assert claimed is not None and claimed.node_id == "node-a"
    finally:
        await store.close()
