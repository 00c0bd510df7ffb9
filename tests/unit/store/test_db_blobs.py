"""The database blob store of distributed mode (store/db_blobs.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from browserfleet.store.db_blobs import DatabaseBlobStore
from browserfleet.store.repo import Store


async def test_put_get_replace_delete(store: Store) -> None:
    blobs = DatabaseBlobStore(store)
    assert await blobs.get("ren_1", "html.gz") is None
    await blobs.put("ren_1", "html.gz", b"\x1f\x8b first")
    await blobs.put("ren_1", "html.gz", b"\x1f\x8b second")  # replaced, not duplicated
    await blobs.put("ren_1", "screenshot", bytes(range(256)) * 1000)
    await blobs.put("ren_2", "html.gz", b"other job")
    assert await blobs.get("ren_1", "html.gz") == b"\x1f\x8b second"
    assert await blobs.get("ren_1", "screenshot") == bytes(range(256)) * 1000

    await blobs.delete("ren_1", "html.gz")
    await blobs.delete("ren_1", "html.gz")  # idempotent
    assert await blobs.get("ren_1", "html.gz") is None
    await blobs.delete_job("ren_1")
    assert await blobs.get("ren_1", "screenshot") is None
    assert await blobs.get("ren_2", "html.gz") == b"other job"


async def test_unsafe_keys_are_refused(store: Store) -> None:
    blobs = DatabaseBlobStore(store)
    with pytest.raises(ValueError, match="unsafe"):
        await blobs.put("../etc", "passwd", b"x")
    with pytest.raises(ValueError, match="unsafe"):
        await blobs.get("ren_1", "a/b")
