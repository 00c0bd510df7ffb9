"""Process-table helpers read from /proc (Linux): browser processes by name, session and ancestry."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HEADLESS_SHELL = "chromium-headless-shell"


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    sid: int
    name: str  # the executable's base name (from /proc/PID/cmdline argv[0])


def processes() -> list[Proc]:
    """Every live (non-zombie) process this user can see."""
    found: list[Proc] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv0 = (entry / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] == "Z":
            continue
        found.append(Proc(int(entry.name), int(fields[1]), int(fields[3]), os.path.basename(argv0)))
    return found


def descendants(root: int, procs: list[Proc]) -> list[Proc]:
    children: dict[int, list[Proc]] = {}
    for proc in procs:
        children.setdefault(proc.ppid, []).append(proc)
    out: list[Proc] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child.pid)
    return out


def browser_processes_under(root: int) -> list[Proc]:
    """chromium-headless-shell processes (browsers and their helpers) in ``root``'s process tree."""
    return [p for p in descendants(root, processes()) if p.name == HEADLESS_SHELL]


def in_sessions(sids: set[int]) -> list[Proc]:
    """Processes, wherever they were re-parented, still in one of the given OS sessions."""
    return [p for p in processes() if p.sid in sids or p.pid in sids]
