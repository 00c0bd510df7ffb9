"""contexts: saved browser profiles (the profile is an encrypted blob, never in the row)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from browserfleet.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contexts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("wrapped_private_key", sa.Text(), nullable=False),
        sa.Column("upload_token_hash", sa.String(length=64), nullable=True),
        sa.Column("upload_expires_at", UTCDateTime(), nullable=True),
        sa.Column("blob_name", sa.String(length=100), nullable=True),
        sa.Column("data_bytes", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_contexts_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contexts")),
    )
    op.create_index(op.f("ix_contexts_project_id"), "contexts", ["project_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_contexts_project_id"), table_name="contexts")
    op.drop_table("contexts")
