"""Exclusive ownership of a data folder by the one process that runs its nodes.

Embedded mode keeps the queue in-process: the process running the nodes owns the jobs in the
store (it recovers and purges them). A second node-running process on the same folder would take
over jobs the first is running, so it is refused. Admin commands (keys, projects, balance) don't
run nodes and need no lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from browserfleet.core.errors import Conflict

LOCK_NAME = "nodes.lock"


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise Conflict(
                f"Another browserfleet process is running on {self.path.parent} and owns its jobs; "
                "talk to it with `--server URL`, or use another --data-dir"
            ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
