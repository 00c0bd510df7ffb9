"""The dispatcher and node-registry protocols.

The API and core submit *tickets* (a job id plus its route); nodes *claim* tickets when they have
a free slot. Job data itself lives in the store, so a ticket is small and any dispatcher that can
move it between processes (a Redis stream, say) slots in without touching api/ or node/.

Durability contract: the store is the source of truth. A dispatcher may lose tickets when the
process stops; at start-up core re-submits every job the store still has as ``queued`` (and
requeues ``assigned``/``running`` jobs whose node is gone), so nothing accepted is lost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from browserfleet.core.admission import ProjectLocks
from browserfleet.core.jobs import JobKind, JobState, NodeLabels, Route
from browserfleet.core.load import NodeLoad
from browserfleet.core.ratelimit import RateLimiter


@dataclass(frozen=True)
class Ticket:
    job_id: str
    project_id: str
    kind: JobKind
    route: Route
    # where a dispatcher keeps a claimed ticket until ``done`` (a Redis stream entry); not data
    receipt: str = field(default="", compare=False)


STATE_EVENT = "state"  # the kind of a job's state change (the others: cancel, ready, release)


@dataclass(frozen=True)
class JobEvent:
    """Published by a node whenever a job changes state; ``kind="cancel"`` asks nodes to stop it.

    ``record``: the job as it stands after the change (a ``store.records.JobRecord``), when the
    publisher has it at hand — handed only to subscribers of the same process (an in-process
    dispatcher); an event that crossed processes has None, and a waiter reads the store instead.
    """

    job_id: str
    project_id: str
    state: JobState | None = None
    kind: str = STATE_EVENT
    record: object = field(default=None, compare=False, repr=False)


@dataclass
class NodeInfo:
    labels: NodeLabels
    slots: int
    in_use: int = 0
    version: str = ""
    advertised_url: str | None = None
    last_seen: datetime | None = None
    browsers: list[dict[str, int | str]] = field(default_factory=list)
    load: NodeLoad | None = None  # its machine, its browsers and its room (core/load.py)

    @property
    def node_id(self) -> str:
        return self.labels.node_id


class NodeRegistry(ABC):
    """Who is alive and what they can run. A node missing its heartbeats is considered gone."""

    @abstractmethod
    async def heartbeat(self, info: NodeInfo) -> None:
        """Register or refresh a node."""

    @abstractmethod
    async def remove(self, node_id: str) -> None: ...

    @abstractmethod
    async def nodes(self) -> list[NodeInfo]: ...


class Subscription(ABC):
    """A stream of job events; close it when done."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[JobEvent]: ...

    @abstractmethod
    async def close(self) -> None: ...


class Dispatcher(ABC):
    """Moves tickets from submitters to nodes and events back.

    - ``submit`` queues a ticket for the nodes its route matches.
    - ``claim`` blocks until a ticket matching the node's labels is available; a node calls it
      only while it has a free slot (nodes pull, the dispatcher never pushes).
    - ``withdraw`` removes a not-yet-claimed ticket (True if it was still queued).
    - ``publish``/``subscribe`` carry job events to whoever waits (sync waits, SSE, webhooks);
      a subscription names the jobs it waits for, so an event wakes only its own waiters.

    Optional capabilities (a dispatcher shared by several processes provides them, so limits hold
    across the fleet; an in-process one returns None and core uses its in-process versions):
    :meth:`project_locks`, :meth:`rate_limiter`.
    """

    registry: NodeRegistry

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect to whatever the dispatcher needs; called once before use."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; pending ``claim`` calls are cancelled."""

    @abstractmethod
    async def submit(self, ticket: Ticket) -> None: ...

    @abstractmethod
    async def claim(self, labels: NodeLabels, kinds: frozenset[JobKind] | None = None) -> Ticket:
        """The oldest ticket whose route matches ``labels`` (and, if given, whose kind is in
        ``kinds``: a node keeps separate slots for long-lived sessions)."""

    @abstractmethod
    async def withdraw(self, job_id: str) -> bool: ...

    @abstractmethod
    async def queued(self) -> int:
        """Tickets waiting for a node."""

    @abstractmethod
    async def queued_by_kind(self) -> dict[JobKind, int]:
        """Tickets waiting for a node, by job kind (kinds with none may be left out)."""

    @abstractmethod
    async def publish(self, event: JobEvent) -> None: ...

    @abstractmethod
    def subscribe(
        self, job_ids: Iterable[str] | None = None, *, kinds: Iterable[str] | None = None
    ) -> Subscription:
        """The events published from now on, in order: of the jobs ``job_ids`` only (None: of
        every job) and of the event ``kinds`` only (None: every kind). Subscribe *before*
        reading a job's state, so an event published in between is not missed."""

    async def done(self, ticket: Ticket) -> None:  # noqa: B027 - optional hook
        """The node is through with a claimed ticket (the job ended, was requeued, or was no
        longer queued). A ticket claimed but never ``done`` — its node died — is handed back by
        :meth:`reclaim` once its node stopped renewing it."""

    def project_locks(self, namespace: str | None = None) -> ProjectLocks | None:
        """Per-project locks every process shares (admission, automations' quota); None: the
        caller's in-process locks are enough."""
        return None

    def rate_limiter(self, limit: int, window_s: float) -> RateLimiter | None:
        """A sliding-window limiter every process shares; None: an in-process one is enough."""
        return None

    async def reclaim(self) -> list[Ticket]:
        """Tickets whose claimer stopped renewing them for longer than the visibility timeout
        (its node died). They are removed from the dispatcher; the caller decides (from the store)
        whether the job runs again. In-process dispatchers lose nothing this way: empty."""
        return []
