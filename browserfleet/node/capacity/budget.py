"""A node's capacity as a budget: what its machine and its browsers leave room for now.

* **Live sessions are admitted by memory.** One more fits while the memory available, less what
  sessions admitted in the last ``SETTLE_S`` will still take, stays above the floor by one
  session's cost, and (``memory_budget_mb``) while the browsers' PSS plus that cost stays within
  the budget. A session's cost is the mean PSS of the live sessions' browser trees once a few were
  read (memory.py), else :data:`SESSION_ESTIMATE`. ``session_slots`` caps the count when set,
  else the process's open-files limit does (a live session holds a few descriptors).
* **Renders, automation runs and browsing tasks are admitted by CPU.** ``node_slots`` when set;
  otherwise up to twice the cores, the ones beyond one per core only while the machine's CPU use
  is under ``cpu_target``.
* **The memory floor** (``memory_floor_mb``): below it the node takes nothing new (``accepting``
  is False, with the reason); below half of it the monitor ends its newest idle sessions
  (monitor.py).
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from browserfleet.core.load import MB, NodeLoad
from browserfleet.node.capacity.machine import Machine, Memory
from browserfleet.node.capacity.memory import MemorySample

if TYPE_CHECKING:
    from browserfleet.settings import Settings

SESSION_ESTIMATE = 80 * MB  # one idle session's browser before any was measured (headless shell)
MIN_SESSION_COST = 32 * MB  # a measured mean never counts a session as cheaper than this
MIN_FLOOR = 256 * MB
FLOOR_SHARE = 0.05  # default floor: this share of the machine's memory
MAX_SESSIONS = 2000  # no more live sessions than this on one node, whatever its memory
FDS_PER_SESSION = 10  # descriptors a live session holds in the node (about 7 measured), with margin
FDS_RESERVED = 512  # descriptors kept for everything else (clients, the database, the pool)
SETTLE_S = 10.0  # a session admitted this recently is counted at its cost on top of the readings
MEASURED_AFTER = 3  # sessions read before the measured mean replaces the estimate


@dataclass(frozen=True)
class BudgetConfig:
    floor: int | None = None  # bytes; None: FLOOR_SHARE of the machine, at least MIN_FLOOR
    budget: int | None = None  # bytes of browser PSS; None: no budget beyond the floor
    cpu_target: float = 0.9
    cpu_slots: int | None = None  # explicit node_slots
    session_slots: int | None = None  # explicit session_slots

    @classmethod
    def from_settings(cls, settings: Settings) -> BudgetConfig:
        s = settings
        return cls(
            floor=s.memory_floor_mb * MB if s.memory_floor_mb is not None else None,
            budget=s.memory_budget_mb * MB if s.memory_budget_mb is not None else None,
            cpu_target=s.cpu_target,
            cpu_slots=s.node_slots,
            session_slots=s.session_slots,
        )


class NodeBudget:
    def __init__(self, config: BudgetConfig, machine: Machine | None = None) -> None:
        self.config = config
        self.machine = machine or Machine()
        total = self.machine.memory().total
        self.floor = config.floor if config.floor is not None else max(MIN_FLOOR, int(total * FLOOR_SHARE))
        self.memory_sample = MemorySample(browsers=0, per_session=0, sessions_read=0)
        self._admitted: list[float] = []  # when recent sessions were admitted (monotonic)

    # --- sizes ------------------------------------------------------------------------------------
    @property
    def cpu_slots(self) -> int:
        """Most renders, runs and tasks at once (``node_slots``, else twice the cores)."""
        return self.config.cpu_slots or max(2, round(2 * self.machine.cores))

    @property
    def session_cost(self) -> int:
        sample = self.memory_sample
        if sample.sessions_read >= MEASURED_AFTER:
            return max(MIN_SESSION_COST, sample.per_session)
        return max(SESSION_ESTIMATE, sample.per_session)

    @property
    def session_cap(self) -> int:
        """``session_slots`` when set, else what the open-files limit allows, at most
        :data:`MAX_SESSIONS`."""
        if self.config.session_slots is not None:
            return self.config.session_slots
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft == resource.RLIM_INFINITY:
            return MAX_SESSIONS
        return max(1, min(MAX_SESSIONS, (soft - FDS_RESERVED) // FDS_PER_SESSION))

    # --- decisions --------------------------------------------------------------------------------
    def floor_reason(self, memory: Memory | None = None) -> str | None:
        """Why the node takes nothing new (None: it does)."""
        memory = memory or self.machine.memory()
        if memory.available < self.floor:
            available, floor = memory.available // MB, self.floor // MB
            return f"memory below the floor ({available} MB available, floor {floor} MB)"
        return None

    def critical(self) -> bool:
        """Memory fell below half the floor: the node ends its newest idle work (monitor.py)."""
        return self.machine.memory().available < self.floor // 2

    def session_room(self, running: int, memory: Memory | None = None) -> tuple[int, str | None]:
        """How many more sessions fit now, and why not more."""
        if running >= self.session_cap:
            return 0, f"all {self.session_cap} session slots in use"
        memory = memory or self.machine.memory()
        if (reason := self.floor_reason(memory)) is not None:
            return 0, reason
        cost, pending = self.session_cost, self._pending() * self.session_cost
        room = (memory.available - self.floor - pending) // cost
        why = f"memory: {memory.available // MB} MB available, floor {self.floor // MB} MB"
        if self.config.budget is not None:
            by_budget = (self.config.budget - self.memory_sample.browsers - pending) // cost
            if by_budget < room:
                room, why = by_budget, f"memory budget spent ({self.config.budget // MB} MB)"
        room = max(0, min(room, self.session_cap - running))
        return room, (why if room == 0 else None)

    def session_refusal(self, running: int) -> str | None:
        return self.session_room(running)[1]

    def session_admitted(self) -> None:
        self._admitted.append(time.monotonic())

    def cpu_refusal(self, running: int) -> str | None:
        if (reason := self.floor_reason()) is not None:
            return reason
        beyond_cores = running >= max(1, int(self.machine.cores))
        busy = self.machine.cpu_percent > self.config.cpu_target * 100
        if self.config.cpu_slots is None and beyond_cores and busy:
            return f"CPU at {self.machine.cpu_percent:.0f}% (target {self.config.cpu_target:.0%})"
        return None

    def _pending(self) -> int:
        horizon = time.monotonic() - SETTLE_S
        self._admitted = [t for t in self._admitted if t > horizon]
        return len(self._admitted)

    # --- report -----------------------------------------------------------------------------------
    def report(self, running: dict[str, int], sessions: int, *, runs_sessions: bool) -> NodeLoad:
        memory = self.machine.memory()
        floor = self.floor_reason(memory)
        room, session_reason = self.session_room(sessions, memory) if runs_sessions else (0, None)
        return NodeLoad(
            machine=self.machine.id,
            cores=self.machine.cores,
            cpu_percent=self.machine.cpu_percent,
            memory_total=memory.total,
            memory_available=memory.available,
            memory_floor=self.floor,
            browsers_pss=self.memory_sample.browsers,
            runs_sessions=runs_sessions,
            sessions=sessions,
            session_limit=sessions + room if runs_sessions else 0,
            session_pss=self.memory_sample.per_session or (self.session_cost if runs_sessions else 0),
            cpu_slots=self.cpu_slots,
            running=running,
            accepting=floor is None,
            reason=floor,
            session_reason=session_reason,
        )
