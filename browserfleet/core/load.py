"""What a node reports about its load and its room: :class:`NodeLoad`.

A node measures its machine (cores, CPU use, memory with cgroup limits) and its browsers (PSS),
and decides what it can take (node/capacity/). It hands the result to the fleet with every
heartbeat (dispatch/base.py ``NodeInfo.load``): the control plane answers ``GET /pressure`` from it
(core/pressure.py) and refuses a live session at once when no node has room for one
(core/sessions/service.py). Nodes running on one machine report the same ``machine`` id, so the
fleet counts that machine's cores and memory once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MB = 1024 * 1024


@dataclass(frozen=True)
class NodeLoad:
    """One node's figures (bytes, percent) and what it accepts now.

    ``session_limit`` is how many live sessions the node could hold at this moment (those it runs
    plus the room its memory and settings leave); 0 for a node that runs none (``runs_sessions``).
    ``accepting`` is False below the memory floor (``reason`` says why); ``session_reason`` is why
    it takes no more sessions when ``session_room`` is 0."""

    machine: str
    cores: float
    cpu_percent: float
    memory_total: int
    memory_available: int
    memory_floor: int
    browsers_pss: int
    runs_sessions: bool = False
    sessions: int = 0
    session_limit: int = 0
    session_pss: int = 0  # mean PSS of one live session's browser tree (measured, else estimated)
    cpu_slots: int = 0
    running: dict[str, int] = field(default_factory=dict)  # by job kind
    accepting: bool = True
    reason: str | None = None
    session_reason: str | None = None

    @property
    def session_room(self) -> int:
        return max(0, self.session_limit - self.sessions) if self.accepting else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> NodeLoad:
        known = {k: v for k, v in body.items() if k in cls.__dataclass_fields__}
        known["running"] = {str(k): int(v) for k, v in (known.get("running") or {}).items()}
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        """The wire view (``GET /pressure``, ``GET /v1/nodes``)."""
        return {
            "accepting": self.accepting,
            "reason": self.reason,
            "cpu": {"cores": self.cores, "usedPercent": round(self.cpu_percent, 1), "slots": self.cpu_slots},
            "memory": {
                "totalMB": self.memory_total // MB,
                "availableMB": self.memory_available // MB,
                "floorMB": self.memory_floor // MB,
                "browsersMB": self.browsers_pss // MB,
            },
            "sessions": {
                "running": self.sessions,
                "limit": self.session_limit,
                "room": self.session_room,
                "pssMB": round(self.session_pss / MB, 1),
                "reason": self.session_reason if self.session_room == 0 else None,
            },
            "running": dict(self.running),
        }
