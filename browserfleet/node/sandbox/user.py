"""The unprivileged system user browsers run as (created by ``make install``: scripts/install.sh)."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BrowserUser", "hand_over"]


@dataclass(frozen=True)
class BrowserUser:
    name: str
    uid: int
    gid: int

    @classmethod
    def lookup(cls, name: str) -> BrowserUser | None:
        """The user called ``name``, None if this host has no such user."""
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            return None
        return cls(name, entry.pw_uid, entry.pw_gid)


def hand_over(folder: Path, user: BrowserUser) -> None:
    """Make ``folder`` and everything in it the browser user's (``chown -R``), never following a
    symbolic link out of it."""
    os.chown(folder, user.uid, user.gid, follow_symlinks=False)
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), user.uid, user.gid, follow_symlinks=False)
