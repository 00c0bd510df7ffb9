"""Adding an API key straight to a SQLite store, without the engine (SQLAlchemy, Alembic): what
``browserfleet keys create`` does so that it answers at once.

It only writes where the full path would write exactly the same row: a SQLite database that
exists, whose schema is at the newest migration (its ``alembic_version`` names the head of
store/migrations/versions/), and a project that exists. Anything else — PostgreSQL, a missing or
older database (the full path migrates it), a project still to be created (creating one posts its
welcome credit) — returns None, and the caller takes the full path through the fleet.

The row is the one :class:`~browserfleet.store.models.ApiKeyRow` describes; ``created_at`` is
stored as SQLAlchemy stores a naive UTC datetime on SQLite (``YYYY-MM-DD HH:MM:SS.ffffff``).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from browserfleet.store.records import ProjectRecord

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"
SQLITE_URL = re.compile(r"^sqlite(\+aiosqlite)?:///(?P<path>[^?]+)$")
_REVISION = re.compile(r"""^(down_)?revision\s*=\s*['"]?(\w+)?['"]?\s*$""", re.M)
BUSY_TIMEOUT_S = 30.0  # as the engine's (store/db.py)


@cache
def head_revision() -> str | None:
    """The newest migration's revision: the one no other migration names as its ``down_revision``."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in VERSIONS_DIR.glob("*.py"):
        for down, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            if value and value != "None":
                (parents if down else revisions).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def sqlite_path(database_url: str) -> Path | None:
    match = SQLITE_URL.match(database_url)
    return Path(match["path"]) if match else None


def add_api_key(
    database_url: str, project_name: str, *, key_id: str, key_hash: str, prefix: str
) -> ProjectRecord | None:
    """Store a key for project ``project_name``: its project, or None when the full path must do
    it (see the module docstring)."""
    path = sqlite_path(database_url)
    head = head_revision()
    if path is None or head is None or not path.is_file():
        return None
    with _transaction(path) as db:
        if _schema_revision(db) != head:
            return None
        project = _project(db, project_name)
        if project is None:
            return None
        created = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        db.execute(
            "INSERT INTO api_keys (id, project_id, key_hash, prefix, created_at, revoked_at) "
            "VALUES (?, ?, ?, ?, ?, NULL)",
            (key_id, project.id, key_hash, prefix, created),
        )
    return project


@contextlib.contextmanager
def _transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction (``BEGIN IMMEDIATE``: the check and the insert see the same schema),
    committed unless the block raises."""
    with contextlib.closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)) as db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _schema_revision(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table: never migrated
        return None
    return str(row[0]) if row else None


def _project(db: sqlite3.Connection, name: str) -> ProjectRecord | None:
    row = db.execute(
        "SELECT id, name, concurrency_limit, default_timeout_s, monthly_quota, created_at "
        "FROM projects WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        return None
    created = datetime.fromisoformat(str(row[5])).replace(tzinfo=UTC)
    return ProjectRecord(row[0], row[1], int(row[2]), int(row[3]), row[4], created)
