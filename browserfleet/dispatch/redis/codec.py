"""What travels through Redis, as compact JSON: tickets, job events, node heartbeats."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from browserfleet.core.jobs import JobKind, JobState, NodeLabels, Route, RouteKind
from browserfleet.core.load import NodeLoad
from browserfleet.dispatch.base import JobEvent, NodeInfo, Ticket
from browserfleet.dispatch.constants import SCOPE_ANY


def dump_ticket(ticket: Ticket) -> str:
    route = ticket.route
    body = {"j": ticket.job_id, "p": ticket.project_id, "k": ticket.kind.value, "r": route.to_dict()}
    return json.dumps(body, separators=(",", ":"))


def load_ticket(text: str, receipt: str = "") -> Ticket:
    body = json.loads(text)
    return Ticket(body["j"], body["p"], JobKind(body["k"]), Route.from_dict(body["r"]), receipt=receipt)


def route_scope(route: Route) -> str:
    """The stream scope of a route: ``any``, ``country:DE``, ``region:eu``, ``node:n1``."""
    if route.kind is RouteKind.ANY or route.value is None:
        return SCOPE_ANY
    return f"{route.kind.value}:{route.value}"


def node_scopes(labels: NodeLabels) -> list[str]:
    """The scopes a node serves, most specific first."""
    scopes = [f"{RouteKind.NODE.value}:{labels.node_id}"]
    if labels.country:
        scopes.append(f"{RouteKind.COUNTRY.value}:{labels.country}")
    scopes += [f"{RouteKind.REGION.value}:{labels.region}", SCOPE_ANY]
    return scopes


def dump_event(event: JobEvent) -> str:
    body = {
        "j": event.job_id,
        "p": event.project_id,
        "s": event.state.value if event.state else None,
        "k": event.kind,
    }
    return json.dumps(body, separators=(",", ":"))


def load_event(text: str) -> JobEvent:
    body = json.loads(text)
    state = JobState(body["s"]) if body.get("s") else None
    return JobEvent(body["j"], body["p"], state, body.get("k") or "state")


def dump_node(info: NodeInfo) -> str:
    labels = info.labels
    body: dict[str, Any] = {
        "labels": {
            "node_id": labels.node_id,
            "region": labels.region,
            "country": labels.country,
            "city": labels.city,
            "extra": labels.extra,
        },
        "slots": info.slots,
        "in_use": info.in_use,
        "version": info.version,
        "advertised_url": info.advertised_url,
        "last_seen": info.last_seen.isoformat() if info.last_seen else None,
        "browsers": info.browsers,
        "load": info.load.to_dict() if info.load else None,
    }
    return json.dumps(body, separators=(",", ":"))


def load_node(text: str) -> NodeInfo:
    body = json.loads(text)
    labels = NodeLabels(**body["labels"])
    seen = body.get("last_seen")
    return NodeInfo(
        labels=labels,
        slots=int(body["slots"]),
        in_use=int(body.get("in_use", 0)),
        version=str(body.get("version", "")),
        advertised_url=body.get("advertised_url"),
        last_seen=datetime.fromisoformat(seen) if seen else None,
        browsers=list(body.get("browsers") or []),
        load=NodeLoad.from_dict(body["load"]) if body.get("load") else None,
    )
