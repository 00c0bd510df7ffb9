"""What a process's executors share: :class:`NodeParts`, built once by the composition root.

Executors build themselves from the settings and these parts (``Executor.from_settings``), so
the composition root (fleet.py) never feeds an executor its settings one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from browserfleet.core.sessions import Contexts, Extensions
from browserfleet.node.egress import EgressProxy
from browserfleet.node.pool import BrowserPool
from browserfleet.node.proxies import ProxyPool
from browserfleet.node.sandbox import Containment
from browserfleet.node.session.live import LiveSessions

if TYPE_CHECKING:
    from browserfleet.node.agent.executor import OnRunning

__all__ = ["NodeParts"]


@dataclass(frozen=True)
class NodeParts:
    """The process's browser pool, egress proxy and exits, how its browsers are contained, the
    live-session registry, the core services executors call back (saved contexts, extensions),
    and how a staged job is marked running."""

    pool: BrowserPool
    egress: EgressProxy
    proxies: ProxyPool
    containment: Containment
    live_sessions: LiveSessions
    contexts: Contexts
    extensions: Extensions
    on_running: OnRunning
