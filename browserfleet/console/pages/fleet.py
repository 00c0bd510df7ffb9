"""The fleet (admin key only): nodes with their labels, slots in use, CPU and memory, and the
queue depth per job kind — what ``GET /v1/nodes`` and ``GET /pressure`` report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from browserfleet.api.ops.nodes import node_view
from browserfleet.console.web import AdminDep, FleetDep, render

router = APIRouter(prefix="/fleet")


@router.get("")
async def fleet_page(request: Request, admin: AdminDep, fleet: FleetDep) -> HTMLResponse:
    pressure = await fleet.pressure()
    loads: dict[str, Any] = {n["id"]: n for n in pressure.get("nodes", [])}  # type: ignore[attr-defined]
    nodes = sorted(await fleet.dispatcher.registry.nodes(), key=lambda n: n.node_id)
    shown = [{**node_view(n), "load": loads.get(n.node_id)} for n in nodes]
    return render(request, "fleet.html", nodes=shown, pressure=pressure)
