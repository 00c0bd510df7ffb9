"""The executor contract: how a node runs one kind of job.

One executor per job kind (render, steps, agent, session). The node claims a job, hands it to
the executor for its kind, and persists what comes back; the executor never touches the store or
the dispatcher. When you add an executor, register it in ``node/worker.py:build_executors``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from browserfleet.core.jobs import JobKind
from browserfleet.store.records import JobRecord


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

    @abstractmethod
    async def run(self, job: JobRecord) -> Execution:
        """Run ``job`` to completion.

        Raise :class:`~browserfleet.core.errors.JobFailure` for a failure with an error code,
        :class:`~browserfleet.core.errors.BrowserCrashed` when the browser died (the node may
        retry). Cancellation (``asyncio.CancelledError``) must release every browser resource.
        """
