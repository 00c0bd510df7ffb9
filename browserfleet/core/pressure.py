"""How loaded the fleet is now (``GET /pressure``, and the gauges of ``/metrics``).

The figures are the nodes' own reports (core/load.py): in distributed mode every live node of the
registry, embedded this process's nodes. The fleet's CPU and memory add up each machine once
(nodes of one machine report the same ``machine`` id); sessions and jobs add up over the nodes;
the queue is the dispatcher's, by kind. ``accepting`` turns false once the queue is ``maxQueued``
deep (core/backpressure.py), or when no node takes work (each node's ``reason`` says why, e.g.
its memory is below the floor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from browserfleet.core.backpressure import MAX_QUEUED_PER_SLOT, max_queued
from browserfleet.core.jobs import JobKind
from browserfleet.core.load import MB, NodeLoad
from browserfleet.dispatch.base import Dispatcher, NodeInfo

__all__ = ["MAX_QUEUED_PER_SLOT", "Pressure", "measure"]


@dataclass(frozen=True)
class Pressure:
    running: int
    queued: int
    slots: int
    nodes: int
    max_queued_setting: int | None = None
    queued_by_kind: dict[str, int] = field(default_factory=dict)
    loads: dict[str, NodeLoad] = field(default_factory=dict)  # node id → its report

    @property
    def max_queued(self) -> int:
        return max_queued(self.slots, self.max_queued_setting)

    @property
    def machines(self) -> list[NodeLoad]:
        """One report per machine (the latest node's)."""
        return list({load.machine: load for load in self.loads.values()}.values())

    @property
    def reason(self) -> str | None:
        """Why the fleet takes no new work (None: it does)."""
        if self.nodes == 0:
            return "no node is running"
        if self.queued >= self.max_queued:
            return f"the queue is full ({self.queued} waiting, at most {self.max_queued})"
        if self.loads and len(self.loads) == self.nodes and not any(x.accepting for x in self.loads.values()):
            return next(x.reason for x in self.loads.values() if x.reason)
        return None

    @property
    def accepting(self) -> bool:
        return self.reason is None

    def to_json(self) -> dict[str, object]:
        loads = list(self.loads.values())
        sessions = sum(x.sessions for x in loads)
        session_limit = sum(x.session_limit for x in loads)
        running = {kind: sum(x.running.get(kind, 0) for x in loads) for kind in JobKind}
        return {
            "running": self.running,
            "queued": self.queued,
            "limits": {
                "slots": self.slots,
                "nodes": self.nodes,
                "maxQueued": self.max_queued,
                "sessions": session_limit,
            },
            "accepting": self.accepting,
            "reason": self.reason,
            "cpu": self._cpu(),
            "memory": self._memory(),
            "sessions": {
                "running": sessions,
                "limit": session_limit,
                "room": sum(x.session_room for x in loads),
            },
            "kinds": {
                kind.value: {"running": running[kind], "queued": self.queued_by_kind.get(kind.value, 0)}
                for kind in JobKind
            },
            "nodes": [{"id": node_id, **load.to_json()} for node_id, load in sorted(self.loads.items())],
        }

    def _cpu(self) -> dict[str, Any]:
        machines = self.machines
        cores = sum(m.cores for m in machines)
        used = sum(m.cpu_percent * m.cores for m in machines) / cores if cores else 0.0
        return {"cores": cores, "usedPercent": round(used, 1)}

    def _memory(self) -> dict[str, int]:
        machines = self.machines
        return {
            "totalMB": sum(m.memory_total for m in machines) // MB,
            "availableMB": sum(m.memory_available for m in machines) // MB,
            "floorMB": sum(m.memory_floor for m in machines) // MB,
            "browsersMB": sum(m.browsers_pss for m in machines) // MB,
        }


async def measure(
    dispatcher: Dispatcher,
    local: Sequence[NodeInfo],
    *,
    distributed: bool,
    max_queued_setting: int | None = None,
) -> Pressure:
    """The fleet's pressure: the registry's nodes when ``distributed``, else ``local``."""
    nodes: Sequence[NodeInfo] = await dispatcher.registry.nodes() if distributed else local
    by_kind = await dispatcher.queued_by_kind()
    return Pressure(
        running=sum(n.in_use for n in nodes),
        queued=sum(by_kind.values()),
        slots=sum(n.slots for n in nodes),
        nodes=len(nodes),
        max_queued_setting=max_queued_setting,
        queued_by_kind={kind.value: count for kind, count in by_kind.items()},
        loads={n.node_id: n.load for n in nodes if n.load is not None},
    )
