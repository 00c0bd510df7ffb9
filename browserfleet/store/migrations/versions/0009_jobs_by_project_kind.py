"""jobs by project, kind and creation: the index a project's lists of one kind of job read

The web console pages a project's renders, sessions and browsing tasks newest first and counts
them (store/repo/listing.py); with this index both are range scans of the index alone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_project_kind_created", "jobs", ["project_id", "kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_project_kind_created", table_name="jobs")
