"""Extra nodes in one process (embedded mode): ``local_nodes`` in the settings.

Each entry becomes a :class:`Node` with its own labels (id, country, city, region) and slots that
shares the process's browser pool, egress proxy and executors. They run the browser job kinds a
route can target — renders, automation runs, browsing tasks — but not live sessions or fetches,
which stay on the main node. With them one machine can exercise routing by country or node,
``session_key`` affinity and ``fanout`` across distinct nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from browserfleet.core.jobs import JobKind, NodeLabels
from browserfleet.node.executor import Executor
from browserfleet.node.worker import Node

if TYPE_CHECKING:  # settings import the core, not the other way round
    from browserfleet.settings import Settings

LOCAL_NODE_KINDS = frozenset({JobKind.RENDER, JobKind.STEPS, JobKind.AGENT})


def build_local_nodes(
    settings: Settings, executors: dict[JobKind, Executor], **node_options: Any
) -> list[Node]:
    """One node per ``local_nodes`` entry; ``node_options`` as for the main node (store, blobs,
    dispatcher, max_attempts, version, on_finished, heartbeat_s)."""
    shared = {kind: executor for kind, executor in executors.items() if kind in LOCAL_NODE_KINDS}
    return [
        Node(
            NodeLabels(
                node_id=entry.id,
                region=entry.region or settings.node_region,
                country=entry.country,
                city=entry.city,
            ),
            entry.slots,
            executors=shared,
            **node_options,
        )
        for entry in settings.local_nodes
    ]
