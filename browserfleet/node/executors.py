"""The executors a node runs, one per job kind, each built from the settings and the shared parts.

When you add an executor, add its class to :data:`EXECUTORS` (it declares its ``kind``, builds
itself with ``from_settings`` and says with ``enabled`` whether the settings turn it on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from browserfleet.core.jobs import JobKind
from browserfleet.node.agent.executor import AgentExecutor
from browserfleet.node.automation import AutomationExecutor
from browserfleet.node.executor import Executor
from browserfleet.node.fetch import FetchExecutor
from browserfleet.node.render import RenderExecutor
from browserfleet.node.session.executor import SessionExecutor

if TYPE_CHECKING:
    from browserfleet.node.parts import NodeParts
    from browserfleet.settings import Settings

__all__ = ["EXECUTORS", "build_executors"]

EXECUTORS: Final[tuple[type[Executor], ...]] = (
    RenderExecutor,
    FetchExecutor,
    AutomationExecutor,
    AgentExecutor,
    SessionExecutor,
)


def build_executors(settings: Settings, parts: NodeParts) -> dict[JobKind, Executor]:
    """Every enabled executor, by the job kind it runs."""
    return {cls.kind: cls.from_settings(settings, parts) for cls in EXECUTORS if cls.enabled(settings)}
