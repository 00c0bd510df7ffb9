"""The throwaway PostgreSQL server of tests.support works and is reachable with asyncpg."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


async def _scalar(url: str, sql: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await engine.dispose()


async def test_select_version(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    version = await _scalar(postgres_url, "select version()")
    assert isinstance(version, str)
    assert "PostgreSQL" in version


async def test_create_database(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("support_extra")
    assert url.endswith("/support_extra")
    assert await _scalar(url, "select current_database()") == "support_extra"
