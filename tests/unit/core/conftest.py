"""The store of core unit tests: a real SQLite file of its own per test (migrated to head)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from browserfleet.store.repo import Store
from tests.support.stores import sqlite_url


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(sqlite_url(tmp_path))
    try:
        yield opened
    finally:
        await opened.close()
