"""Alembic migrations are the only source of the schema: after ``upgrade head`` the live schema
equals the models (store/models.py), on SQLite and on PostgreSQL, and re-opening is harmless."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from browserfleet.store.db import alembic_config, create_engine, migrate
from browserfleet.store.models import Base
from browserfleet.store.repo import Store
from tests.support.stores import new_project

TABLES = {
    *("projects", "api_keys", "ledger_entries", "balances", "jobs", "contexts", "tasks", "task_runs"),
    *("webhook_deliveries", "feeds", "extensions", "blobs"),
}


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _current_revisions(connection: Connection) -> set[str]:
    return set(MigrationContext.configure(connection).get_current_heads())


async def _diff(store: Store) -> list[Any]:
    async with store.engine.connect() as conn:
        return await conn.run_sync(_schema_diff)


async def test_live_schema_matches_models_after_upgrade(store_url: str) -> None:
    store = await Store.open(store_url)
    try:
        assert await _diff(store) == []
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_current_revisions) == {
                ScriptDirectory.from_config(alembic_config()).get_current_head()
            }
            tables = await conn.run_sync(lambda c: set(c.dialect.get_table_names(c)))
        assert tables == {*TABLES, "alembic_version"}

        # The comparison is not vacuous: a schema drift is reported.
        async with store.engine.begin() as conn:
            await conn.execute(text("DROP INDEX ix_jobs_state"))
        drift = await _diff(store)
        assert [(d[0], d[1].name) for d in drift] == [("add_index", "ix_jobs_state")]
    finally:
        await store.close()


async def test_open_twice_is_idempotent(store_url: str) -> None:
    first = await Store.open(store_url)
    try:
        project = await new_project(first, name="survivor", credit={"paid": 42})
    finally:
        await first.close()

    second = await Store.open(store_url)
    try:
        assert await _diff(second) == []
        async with second.engine.connect() as conn:
            versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        assert versions == [ScriptDirectory.from_config(alembic_config()).get_current_head()]
        assert await second.project_by_name("survivor") == project
        assert await second.balance(project.id) == {"free": 0, "bonus": 0, "paid": 42}
    finally:
        await second.close()


async def test_running_balances_are_backfilled_from_the_ledger(store_url: str) -> None:
    engine = create_engine(store_url)
    try:
        await migrate(engine, "0001")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO projects (id, name, concurrency_limit, default_timeout_s, created_at) "
                    "VALUES ('prj_old', 'old', 5, 120, CURRENT_TIMESTAMP)"
                )
            )
            for kind, cents in (("free", 100), ("free", -3), ("paid", 50), ("bonus", 7), ("bonus", -7)):
                await conn.execute(
                    text(
                        "INSERT INTO ledger_entries (project_id, kind, cents, reason, created_at) "
                        "VALUES ('prj_old', :kind, :cents, 'before 0002', CURRENT_TIMESTAMP)"
                    ),
                    {"kind": kind, "cents": cents},
                )
        await migrate(engine, "head")
        store = Store(engine)
        assert await store.balance("prj_old") == {"free": 97, "bonus": 0, "paid": 50}
        await store.add_ledger_entry("prj_old", "paid", 5, "after 0002")
        assert await store.balance("prj_old") == {"free": 97, "bonus": 0, "paid": 55}
    finally:
        await engine.dispose()
