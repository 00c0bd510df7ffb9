"""The executor contract: how a node runs one kind of job.

One executor per job kind (render, fetch, steps, agent, session). The node claims a job, hands
it to the executor for its kind, and persists what comes back; the executor never touches the
store or the dispatcher. An executor builds itself from the settings and the process's shared
parts (:meth:`Executor.from_settings`, node/parts.py). When you add an executor, add its class
to ``EXECUTORS`` in node/executors.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from browserfleet.core.jobs import JobKind
from browserfleet.store.records import JobRecord

if TYPE_CHECKING:
    from browserfleet.node.parts import NodeParts
    from browserfleet.settings import Settings


@dataclass
class Execution:
    """A finished job's output: a JSON-able ``result`` and named blobs (stored under the job)."""

    result: dict[str, Any]
    blobs: dict[str, bytes] = field(default_factory=dict)
    billable: bool = True


class Executor(ABC):
    kind: ClassVar[JobKind]
    # True: the job is claimed as ``assigned`` and the executor marks it ``running`` itself once it
    # prepared it (node/worker.py; the agent, which first finds its browser)
    staged: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings, parts: NodeParts) -> Self:
        """The executor as the settings configure it, on the process's shared parts."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the executor keeps between jobs (before the browser pool closes)."""

    @classmethod
    def enabled(cls, settings: Settings) -> bool:
        """Whether this node runs the kind at all (e.g. ``session_slots=0``: no live sessions)."""
        return True

    @abstractmethod
    async def run(self, job: JobRecord) -> Execution:
        """Run ``job`` to completion.

        Raise :class:`~browserfleet.core.errors.JobFailure` for a failure with an error code,
        :class:`~browserfleet.core.errors.BrowserCrashed` when the browser died (the node may
        retry). Cancellation (``asyncio.CancelledError``) must release every browser resource.
        """
