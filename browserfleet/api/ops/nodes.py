"""``GET /v1/nodes`` (admin): the live nodes of the fleet, as their heartbeats describe them.

Authenticated with the ``admin_key`` setting (``Authorization: Bearer KEY``), never with a
project's key; without an ``admin_key`` the endpoint answers 403. A node missing its heartbeats
for ``node_ttl_s`` is gone and no longer listed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Security

from browserfleet.api.deps import ADMIN_KEY, FleetDep, api_key
from browserfleet.core.accounts import is_admin_key
from browserfleet.core.errors import Forbidden, Unauthenticated
from browserfleet.dispatch.base import NodeInfo
from browserfleet.fleet import Fleet

router = APIRouter(prefix="/v1", tags=["operations"])


def require_admin(fleet: Fleet, request: Request) -> None:
    expected = fleet.settings.admin_key
    if expected is None or not expected.get_secret_value():
        raise Forbidden("The admin API is disabled: set BROWSERFLEET_ADMIN_KEY")
    if not is_admin_key(expected.get_secret_value(), api_key(request)):
        raise Unauthenticated("Missing or invalid admin key")


@router.get(
    "/nodes",
    dependencies=[Security(ADMIN_KEY)],  # documents the credential require_admin checks
    responses={403: {"description": "The admin API is disabled (no admin_key)"}},
)
async def list_nodes(request: Request, fleet: FleetDep) -> dict[str, Any]:
    require_admin(fleet, request)
    nodes = sorted(await fleet.dispatcher.registry.nodes(), key=lambda n: n.node_id)
    return {"nodes": [node_view(n) for n in nodes]}


def node_view(node: NodeInfo) -> dict[str, Any]:
    labels = node.labels
    return {
        "id": node.node_id,
        "region": labels.region,
        "country": labels.country,
        "city": labels.city,
        "labels": labels.extra,
        "slots": node.slots,
        "inUse": node.in_use,
        "version": node.version,
        "advertisedUrl": node.advertised_url,
        "lastSeen": node.last_seen.isoformat() if node.last_seen else None,
        "load": node.load.to_json() if node.load else None,
    }
