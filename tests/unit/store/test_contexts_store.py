"""The contexts table (migration 0003) on SQLite and PostgreSQL: create, scoped get, update, delete."""

from __future__ import annotations

from browserfleet.core.jobs import utcnow
from browserfleet.store.repo import Store
from tests.support.stores import new_project


async def test_context_rows_are_scoped_by_project(store: Store) -> None:
    owner = await new_project(store, name="owner")
    other = await new_project(store, name="other")
    created = await store.create_context(
        context_id="ctx_1", project_id=owner.id, name="shop", wrapped_private_key="sealed-key"
    )
    assert (created.blob_name, created.data_bytes, created.upload_token_hash) == (None, 0, None)
    assert await store.get_context("ctx_1", owner.id) == created
    assert await store.get_context("ctx_1", other.id) is None
    assert await store.get_context("ctx_1") == created

    expires = utcnow()
    updated = await store.update_context(
        "ctx_1",
        blob_name="profile-a.bin",
        data_bytes=1234,
        upload_token_hash="f" * 64,
        upload_expires_at=expires,
    )
    assert updated is not None and updated.updated_at >= created.updated_at
    fetched = await store.get_context("ctx_1", owner.id)
    assert fetched is not None
    assert (fetched.blob_name, fetched.data_bytes, fetched.upload_token_hash) == (
        "profile-a.bin",
        1234,
        "f" * 64,
    )
    assert fetched.upload_expires_at == expires

    assert await store.delete_context("ctx_1", other.id) is False
    assert await store.delete_context("ctx_1", owner.id) is True
    assert await store.get_context("ctx_1") is None
    assert await store.update_context("ctx_1", data_bytes=1) is None
