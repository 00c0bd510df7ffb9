"""What the store keeps on disk is private to the server's user: 0600 files, 0700 folders.

The SQLite database (and the WAL/SHM files SQLite creates with the database's own mode), the blob
files and their folders are created with these modes whatever the process umask, and
:func:`make_private` narrows an existing one left more open (by an older version, a restore, an
operator's ``chmod``) at start, with a warning. The data folder itself is the operator's (other
components may keep things there for other users): :func:`check_data_dir` only warns when group
or others can enter it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)
FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private(path: Path, mode: int) -> bool:
    """Narrow ``path`` to ``mode`` if group or others have any access to it; True if changed."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if not current & 0o077:
        return False
    os.chmod(path, mode)
    log.warning("store.made_private", path=str(path), was=oct(current), now=oct(mode))
    return True


def create_private_file(path: Path) -> None:
    """``path`` exists and is private (created empty with :data:`FILE_MODE` if missing)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    make_private(path, FILE_MODE)


def private_dir(path: Path) -> None:
    """``path`` and any missing parent created with :data:`DIR_MODE` (existing ones untouched)."""
    if path.is_dir():
        return
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=DIR_MODE)
        os.chmod(path, DIR_MODE)  # mkdir's mode is narrowed by the umask, never widened: exact


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new private file at ``path`` (replaced if present)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a leftover keeps its own mode through O_CREAT: start afresh
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def check_data_dir(path: Path) -> bool:
    """Warn (``data_dir.too_open``) when group or others may enter the data folder; True if so."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if not current & 0o077:
        return False
    log.warning(
        "data_dir.too_open",
        path=str(path),
        mode=oct(current),
        hint=f"chmod 700 {path} (the database, blobs and secret.key in it are kept private)",
    )
    return True
