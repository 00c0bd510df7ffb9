"""Jobs: the one unit of work, and the one state machine every job follows.

A render, an automation run, a browsing task and a live session are all jobs; the API families
only name and shape them differently. Every state change goes through :func:`transition`, which
rejects the moves the machine does not allow. The store persists the result of a transition;
nothing else writes a job's ``state``.

::

    queued ──▶ assigned ──▶ running ──▶ completed
      │  ▲        │  │        │  │
      │  └────────┘  │        │  └────▶ failed
      │  (requeue)   │        │
      └──────────────┴────────┴───────▶ cancelled

``assigned``/``running`` → ``queued`` is the requeue edge: the browser crashed and the job gets
one more attempt, or the node (or the whole server) stopped before the job finished.
``assigned`` → ``failed`` (not drawn) ends a job whose node was lost before it ran and that has
used its attempts (``NODE_LOST``, core/recovery.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from browserfleet.core.errors import IllegalTransition


class JobState(StrEnum):
    QUEUED = "queued"  # accepted and durable; waiting for a node with a free slot
    ASSIGNED = "assigned"  # a node claimed it; the executor is being prepared
    RUNNING = "running"  # the executor is driving a browser
    COMPLETED = "completed"  # finished with a result (terminal)
    FAILED = "failed"  # finished with an ErrorCode (terminal)
    CANCELLED = "cancelled"  # stopped on request before it finished (terminal)

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})
ACTIVE_STATES = frozenset({JobState.QUEUED, JobState.ASSIGNED, JobState.RUNNING})

_ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.ASSIGNED, JobState.CANCELLED}),
    JobState.ASSIGNED: frozenset({JobState.RUNNING, JobState.QUEUED, JobState.FAILED, JobState.CANCELLED}),
    JobState.RUNNING: frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.QUEUED}),
    JobState.COMPLETED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


class JobKind(StrEnum):
    RENDER = "render"  # Renders API: load a page, capture HTML / screenshot / fetches
    STEPS = "steps"  # Automations: a saved list of steps
    AGENT = "agent"  # Browsing: a natural-language task run by an LLM agent
    SESSION = "session"  # Sessions: a live browser driven over CDP / WebDriver
    FETCH = "fetch"  # Sessions family's POST /v1/fetch: one plain HTTP fetch, no browser


class RouteKind(StrEnum):
    ANY = "any"
    COUNTRY = "country"
    REGION = "region"
    NODE = "node"


@dataclass(frozen=True)
class Route:
    """Where a job may run. ``fanout`` > 1 asks for that many distinct nodes (first success wins)."""

    kind: RouteKind = RouteKind.ANY
    value: str | None = None
    fanout: int = 1

    def matches(self, labels: NodeLabels) -> bool:
        match self.kind:
            case RouteKind.ANY:
                return True
            case RouteKind.COUNTRY:
                return labels.country == self.value
            case RouteKind.REGION:
                return labels.region == self.value
            case RouteKind.NODE:
                return labels.node_id == self.value

    def to_dict(self) -> dict[str, str | int | None]:
        return {"kind": self.kind.value, "value": self.value, "fanout": self.fanout}

    @classmethod
    def from_dict(cls, data: dict[str, str | int | None]) -> Route:
        return cls(RouteKind(str(data["kind"])), _opt_str(data.get("value")), int(data.get("fanout") or 1))


def _opt_str(value: str | int | None) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class NodeLabels:
    """What a node advertises; routes are matched against it."""

    node_id: str
    region: str = "local"
    country: str | None = None
    city: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def transition(current: JobState, target: JobState) -> JobState:
    """Return ``target`` if the machine allows ``current → target``, else raise IllegalTransition."""
    if target not in _ALLOWED[current]:
        raise IllegalTransition(f"job cannot go from {current.value} to {target.value}")
    return target


def utcnow() -> datetime:
    return datetime.now(UTC)
