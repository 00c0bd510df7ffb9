"""Alembic environment: always runs on a connection handed in by store/db.py:migrate()."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from browserfleet.store.models import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `browserfleet migrate` (store.db.migrate)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
