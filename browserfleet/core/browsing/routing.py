"""Where a browsing task runs: ``filter``, ``session_key`` and ``fanout`` → one route per attempt.

* ``filter.country_iso``: nodes labelled with that country (``node_country`` / a local node's
  ``country``); none live → 400. ``filter.node_uid``: that node; not live → 400.
* ``session_key``: the node that ran the key's latest task, while it is live (and within the
  filter): the key's browser session is kept there. Otherwise the filter's route (a new session
  starts on whichever node takes the task).
* ``fanout: N``: N distinct eligible nodes, least busy first, each attempt pinned to one (fewer
  eligible nodes than N → 400). Not with ``session_key`` (one session cannot race itself).
"""

from __future__ import annotations

from typing import NoReturn

from browserfleet.core.browsing.spec import BrowsingRequest
from browserfleet.core.errors import InvalidRequest
from browserfleet.core.jobs import JobKind, Route, RouteKind
from browserfleet.dispatch.base import NodeInfo, NodeRegistry
from browserfleet.store.records import ProjectRecord
from browserfleet.store.repo import Store

SESSION_LOOKBACK = 200  # latest tasks of a project searched for a session_key's node


async def plan_routes(
    registry: NodeRegistry, store: Store, project: ProjectRecord, request: BrowsingRequest
) -> list[Route]:
    """One route per attempt (``fanout`` of them)."""
    if request.session_key is not None and request.fanout > 1:
        _refuse("fanout", "session_key cannot be combined with fanout > 1 (a session runs on one node)")
    eligible = _eligible(await registry.nodes(), request)
    if request.fanout > 1:
        return _fanout(eligible, request.fanout)
    if request.session_key is not None:
        holder = await session_node(store, project, request.session_key)
        if holder is not None and any(n.node_id == holder for n in eligible):
            return [Route(RouteKind.NODE, holder)]
    if request.country_iso is not None:
        return [Route(RouteKind.COUNTRY, eligible[0].labels.country)]
    if request.node_uid is not None:
        return [Route(RouteKind.NODE, request.node_uid)]
    return [Route()]


def _eligible(nodes: list[NodeInfo], request: BrowsingRequest) -> list[NodeInfo]:
    if request.country_iso is not None:
        country = request.country_iso.upper()
        matching = [n for n in nodes if (n.labels.country or "").upper() == country]
        if not matching:
            _refuse("filter.country_iso", f"No live browsing node in country {country}")
        return matching
    if request.node_uid is not None:
        matching = [n for n in nodes if n.node_id == request.node_uid]
        if not matching:
            _refuse("filter.node_uid", f"No live browsing node with node_uid {request.node_uid!r}")
        return matching
    return nodes


def _fanout(eligible: list[NodeInfo], fanout: int) -> list[Route]:
    if len(eligible) < fanout:
        _refuse(
            "fanout",
            f"fanout {fanout} needs {fanout} distinct eligible nodes; {len(eligible)} are live"
            + (f" ({', '.join(sorted(n.node_id for n in eligible))})" if eligible else ""),
        )
    chosen = sorted(eligible, key=lambda n: (n.in_use / max(1, n.slots), n.node_id))[:fanout]
    return [Route(RouteKind.NODE, n.node_id, fanout=fanout) for n in chosen]


async def session_node(store: Store, project: ProjectRecord, session_key: str) -> str | None:
    """The node of the project's latest task with ``session_key`` (None if there is none)."""
    for job in await store.project_jobs(project.id, JobKind.AGENT, limit=SESSION_LOOKBACK):
        if job.spec.get("session_key") == session_key and job.node_id is not None:
            return job.node_id
    return None


def _refuse(field: str, message: str) -> NoReturn:
    raise InvalidRequest(message, details=[{"field": field, "message": message}])
