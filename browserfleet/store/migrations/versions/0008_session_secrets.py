"""session secrets: no signing key or proxy credential in plain text in session specs

Sessions now keep their signing key and their proxies' username/password sealed with the vault
(core/sessions/secrets.py). Rows written before kept them in plain text: their signing key is
blanked and their proxy credentials dropped (an ended session needs neither; a session still
queued or running from before the upgrade cannot be opened by a new node anyway and ends with
INTERNAL_ERROR). Nothing to undo: the plain-text values are gone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SEALED = "sealed:v1:"
jobs = sa.table(
    "jobs", sa.column("id", sa.String()), sa.column("kind", sa.String()), sa.column("spec", sa.JSON())
)


def scrubbed(spec: dict[str, Any]) -> dict[str, Any] | None:
    """``spec`` without plain-text secrets, or None when it has none."""
    changed = dict(spec)
    key = spec.get("signing_key")
    if isinstance(key, str) and key and not key.startswith(SEALED):
        changed["signing_key"] = ""
    proxies = spec.get("proxies")
    if isinstance(proxies, list):
        changed["proxies"] = [
            {k: v for k, v in rule.items() if k not in ("username", "password")}
            if isinstance(rule, dict)
            else rule
            for rule in proxies
        ]
    return changed if changed != spec else None


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(jobs.c.id, jobs.c.spec).where(jobs.c.kind == "session")).all()
    for job_id, spec in rows:
        new = scrubbed(spec) if isinstance(spec, dict) else None
        if new is not None:
            connection.execute(sa.update(jobs).where(jobs.c.id == job_id).values(spec=new))


def downgrade() -> None:
    pass
