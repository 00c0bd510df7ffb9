"""Store fixtures, parametrized over both backends: a SQLite file (WAL) and a real PostgreSQL.

Every test gets its own SQLite file or its own PostgreSQL database, so no test sees another's rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from browserfleet.store.repo import Store
from tests.support.stores import fresh_postgres_url, sqlite_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database (nothing migrated yet) on the parametrized backend."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return fresh_postgres_url(request.getfixturevalue("postgres_server"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """``Store.open`` (runs Alembic ``upgrade head``) on a fresh database."""
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()
