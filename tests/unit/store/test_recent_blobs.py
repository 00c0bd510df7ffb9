"""The memory of just-written blobs in front of a blob store (store/recent_blobs.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from browserfleet.store.blobs import FileBlobStore
from browserfleet.store.recent_blobs import RecentBlobs

HTML = b"\x1f\x8b" + bytes(range(256)) * 40


async def test_a_blob_just_written_is_the_file_byte_for_byte_without_reading_it(tmp_path: Path) -> None:
    files = FileBlobStore(tmp_path / "blobs")
    blobs = RecentBlobs(files)
    await blobs.put("ren_1", "html.gz", HTML)
    assert await files.get("ren_1", "html.gz") == HTML  # written through before put returned

    path = tmp_path / "blobs" / "_1" / "ren_1" / "html.gz"
    path.unlink()  # now only the memory has it: a hit reads no file
    kept = await blobs.get("ren_1", "html.gz")
    assert kept == HTML
    blobs.clear()
    assert await blobs.get("ren_1", "html.gz") is None  # what the store underneath says


async def test_blobs_leave_the_memory_when_old_past_the_bound_or_deleted(tmp_path: Path) -> None:
    files = FileBlobStore(tmp_path / "blobs")
    blobs = RecentBlobs(files, max_age_s=0.2, max_bytes=2 * len(HTML))
    await blobs.put("ren_1", "html.gz", HTML)
    await blobs.put("ren_2", "html.gz", HTML)
    await blobs.put("ren_3", "html.gz", HTML)  # past max_bytes: the oldest goes
    assert len(blobs) == 2
    await blobs.put("ren_4", "huge", HTML * 3)  # larger than the whole memory: only the file
    assert len(blobs) == 2
    assert await blobs.get("ren_4", "huge") == HTML * 3

    await blobs.delete("ren_2", "html.gz")
    assert await blobs.get("ren_2", "html.gz") is None
    await blobs.delete_job("ren_3")
    assert await blobs.get("ren_3", "html.gz") is None
    assert len(blobs) == 0

    await blobs.put("ren_5", "html.gz", HTML)
    await asyncio.sleep(0.25)
    await blobs.get("ren_5", "html.gz")  # from the file now: the entry has expired
    assert len(blobs) == 0


async def test_a_replaced_blob_is_never_answered_with_its_old_bytes(tmp_path: Path) -> None:
    blobs = RecentBlobs(FileBlobStore(tmp_path / "blobs"))
    await blobs.put("ren_1", "html.gz", b"first")
    await blobs.put("ren_1", "html.gz", b"second")
    assert await blobs.get("ren_1", "html.gz") == b"second"
    with pytest.raises(ValueError, match="unsafe"):
        await blobs.put("../etc", "passwd", b"x")
    assert len(blobs) == 1
