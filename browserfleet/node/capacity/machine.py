"""The machine a node runs on: its cores, CPU use and memory, as its cgroup limits them.

Cores are the CPUs the process may run on, lowered by a cgroup CPU quota (v2 ``cpu.max``, v1
``cpu.cfs_quota_us``). Memory is the kernel's ``MemAvailable`` (psutil), lowered by a cgroup
memory limit (v2 ``memory.max`` less ``memory.current``, v1 ``memory.limit_in_bytes`` less
``memory.usage_in_bytes``; reclaimable page cache counted as available, as the kernel does). CPU
use is the machine's, between two readings (``/proc/stat``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import resource
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")
_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a huge page-rounded number
_CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


@dataclass(frozen=True)
class Memory:
    total: int  # bytes the node may use at most (RAM, or the cgroup limit)
    available: int  # bytes it can still get without swapping or an OOM kill


MEMORY_FRESH_S = 0.2  # a memory reading this recent is answered again (every claim asks for one)


class Machine:
    """Readings of this machine; ``cores`` and ``id`` are read once, memory at most every
    :data:`MEMORY_FRESH_S`, the CPU on every call."""

    def __init__(self, proc_cgroup: Path = Path("/proc/self/cgroup"), root: Path = CGROUP_ROOT) -> None:
        self._paths = _cgroup_paths(proc_cgroup)
        self._root = root
        self.cores = self._cores()
        self.id = _machine_id(self._paths)
        self._last_cpu = psutil.cpu_times()
        self.cpu_percent = 0.0
        self._memory: tuple[float, Memory] | None = None  # (until, reading)

    def memory(self) -> Memory:
        now = time.monotonic()
        if self._memory is not None and now < self._memory[0]:
            return self._memory[1]
        reading = self._read_memory()
        self._memory = (now + MEMORY_FRESH_S, reading)
        return reading

    def _read_memory(self) -> Memory:
        vm = psutil.virtual_memory()
        total, available = int(vm.total), int(vm.available)
        limit = self._memory_limit()
        if limit is not None and limit < total:
            used = self._cgroup_used() or 0
            total, available = limit, min(available, max(0, limit - used))
        return Memory(total=total, available=available)

    def sample_cpu(self) -> float:
        """The machine's CPU use (percent of all its CPUs) since the previous call."""
        now = psutil.cpu_times()
        busy = _busy(now) - _busy(self._last_cpu)
        total = _total(now) - _total(self._last_cpu)
        self._last_cpu = now
        if total > 0:
            self.cpu_percent = max(0.0, min(100.0, 100.0 * busy / total))
        return self.cpu_percent

    # --- cgroups ----------------------------------------------------------------------------------
    def _file(self, controller: str, name: str) -> str | None:
        """A cgroup file of this process: ``controller`` "" is the v2 hierarchy, else a v1 one (its
        folder, else the hierarchy's root as a container sees it); None when absent."""
        relative = self._paths.get(controller)
        if relative is None:
            return None
        base = self._root / controller if controller else self._root
        for folder in (base / relative.lstrip("/"), base):
            with contextlib.suppress(OSError):
                return (folder / name).read_text().strip()
        return None

    def _memory_limit(self) -> int | None:
        raw = self._file("", "memory.max") or self._file("memory", "memory.limit_in_bytes")
        if raw is None or raw == "max":
            return None
        value = int(raw)
        return value if value < _UNLIMITED else None

    def _cgroup_used(self) -> int | None:
        raw = self._file("", "memory.current") or self._file("memory", "memory.usage_in_bytes")
        if raw is None:
            return None
        stat = self._file("", "memory.stat") or self._file("memory", "memory.stat") or ""
        inactive = _stat_value(stat, ("inactive_file", "total_inactive_file"))
        return max(0, int(raw) - inactive)

    def _cores(self) -> float:
        cpus = float(len(os.sched_getaffinity(0)))
        quota: float | None = None
        if (v2 := self._file("", "cpu.max")) is not None:
            limit, _, period = v2.partition(" ")
            if limit != "max" and period:
                quota = int(limit) / int(period)
        elif (v1 := self._file("cpu", "cpu.cfs_quota_us")) is not None and int(v1) > 0:
            period_v1 = self._file("cpu", "cpu.cfs_period_us")
            quota = int(v1) / int(period_v1 or 100_000)
        return round(min(cpus, quota) if quota else cpus, 2)


def raise_open_files_limit() -> int:
    """Lift this process's soft limit of open files to its hard limit (each live session holds a
    few descriptors: its browser's pipes, its CDP and egress connections; systemd's default soft
    limit of 1024 would cap a node at a few hundred sessions). The soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _cgroup_paths(proc_cgroup: Path) -> dict[str, str]:
    """``/proc/self/cgroup`` as controller → path ("" is the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in proc_cgroup.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _machine_id(paths: dict[str, str]) -> str:
    """Same for every process of one machine and cgroup (nodes there share its memory)."""
    with contextlib.suppress(OSError):
        base = Path("/etc/machine-id").read_text().strip()
        return hashlib.sha256(f"{base}:{paths.get('memory', paths.get(''))}".encode()).hexdigest()[:16]
    return socket.gethostname()


def _stat_value(stat: str, names: tuple[str, ...]) -> int:
    for line in stat.splitlines():
        name, _, value = line.partition(" ")
        if name in names and value.strip().isdigit():
            return int(value)
    return 0


def _busy(times: object) -> float:
    return _total(times) - getattr(times, "idle", 0.0) - getattr(times, "iowait", 0.0)


def _total(times: object) -> float:
    return float(sum(getattr(times, name, 0.0) for name in _CPU_FIELDS))
