"""Where a job runs: the node that holds a running job, as the registry advertises it.

Distributed mode only: a session's browser lives on one node; the control plane answers its
node-local endpoints (CDP, WebDriver, live view…) by relaying to that node's advertised URL
(api/relay.py).
"""

from __future__ import annotations

from collections.abc import Collection

from browserfleet.core.jobs import JobKind, JobState
from browserfleet.dispatch.base import NodeRegistry
from browserfleet.store.repo import Store


async def running_elsewhere(
    store: Store, registry: NodeRegistry, session_id: str, local_nodes: Collection[str]
) -> str | None:
    """The advertised URL of the node running session ``session_id``; None when it is not
    running, runs on one of ``local_nodes`` (this process), or its node is not (or no longer)
    in the registry."""
    job = await store.get_job(session_id)
    if job is None or job.kind is not JobKind.SESSION or job.state is not JobState.RUNNING:
        return None
    if job.node_id is None or job.node_id in local_nodes:
        return None
    for node in await registry.nodes():
        if node.node_id == job.node_id:
            return node.advertised_url
    return None
