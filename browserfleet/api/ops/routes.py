"""Operations endpoints: health, pressure, Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from browserfleet.api.deps import FleetDep
from browserfleet.fleet import VERSION

router = APIRouter(tags=["operations"])


@router.get("/health")
async def health(fleet: FleetDep) -> dict[str, object]:
    nodes = await fleet.dispatcher.registry.nodes()
    return {
        "status": "ok",
        "version": VERSION,
        "store": fleet.store.backend,
        "nodes": len(nodes),
        # this process's browsers (docs/security.md, "Layer 2"); null without a node here
        "containment": fleet.containment.report() if fleet.containment is not None else None,
    }


@router.get("/pressure")
async def pressure(fleet: FleetDep) -> dict[str, object]:
    return await fleet.pressure()


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(fleet: FleetDep) -> Response:
    await fleet.pressure()  # refreshes the gauges
    return Response(fleet.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
