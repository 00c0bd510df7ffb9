"""What the node's browsers really use: PSS of their process trees, sampled.

PSS (proportional set size, ``/proc/PID/smaps_rollup``) shares each shared page among the
processes that map it, so summing it over a browser's processes does not count Chromium's shared
libraries once per renderer, as RSS would. Reading it costs a few milliseconds per process, so a
round reads every process the node started that is not a live session's (the render pool,
helpers) and at most ``max_trees`` live sessions' trees, the least recently read first; the others
count at the mean of those read. Blocking: run :meth:`BrowserMemory.sample` in a thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass

import psutil

MAX_TREES = 12


@dataclass(frozen=True)
class MemorySample:
    browsers: int  # bytes: every process the node started, sessions estimated where not read
    per_session: int  # bytes: mean PSS of one live session's tree (0 before any was read)
    sessions_read: int  # how many sessions that mean comes from


class BrowserMemory:
    def __init__(self, max_trees: int = MAX_TREES, root_pid: int | None = None) -> None:
        self.max_trees = max_trees
        self.root_pid = root_pid or os.getpid()
        self._per_session: dict[str, int] = {}  # session id → its tree's PSS when last read
        self._order: list[str] = []  # least recently read first

    def sample(self, sessions: Mapping[str, int]) -> MemorySample:
        """``sessions``: live session id → its browser's pid."""
        children = _children_map()
        trees = {sid: _tree(pid, children) for sid, pid in sessions.items()}
        in_sessions = {pid for pids in trees.values() for pid in pids}
        others = [pid for pid in _tree(self.root_pid, children)[1:] if pid not in in_sessions]
        self._forget_ended(sessions)
        for sid in self._next_round(sessions):
            self._per_session[sid] = sum(_pss(pid) for pid in trees[sid])
        known = [self._per_session[sid] for sid in sessions if sid in self._per_session]
        mean = sum(known) // len(known) if known else 0
        estimated = sum(known) + mean * (len(sessions) - len(known))
        return MemorySample(
            browsers=sum(_pss(pid) for pid in others) + estimated, per_session=mean, sessions_read=len(known)
        )

    def _forget_ended(self, sessions: Mapping[str, int]) -> None:
        for sid in [s for s in self._per_session if s not in sessions]:
            del self._per_session[sid]
        self._order = [sid for sid in self._order if sid in sessions]
        self._order += [sid for sid in sessions if sid not in self._order]

    def _next_round(self, sessions: Mapping[str, int]) -> list[str]:
        chosen = self._order[: self.max_trees]
        self._order = self._order[self.max_trees :] + chosen
        return chosen


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info.get("ppid")
        if ppid is not None:
            children.setdefault(int(ppid), []).append(proc.pid)
    return children


def _tree(root: int, children: Mapping[int, list[int]]) -> list[int]:
    out, todo = [root], [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            out.append(child)
            todo.append(child)
    return out


def _pss(pid: int) -> int:
    """The process's PSS in bytes (RSS when PSS cannot be read; 0 once it is gone)."""
    with contextlib.suppress(psutil.Error, OSError):
        process = psutil.Process(pid)
        try:
            return int(process.memory_full_info().pss)
        except psutil.AccessDenied:
            return int(process.memory_info().rss)
    return 0
