"""Request dependencies shared by every family: the fleet, and the caller's project."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from browserfleet.core.accounts import api_key_of
from browserfleet.fleet import Fleet
from browserfleet.store.records import ProjectRecord


async def get_fleet(request: Request) -> Fleet:
    fleet: Fleet = request.app.state.fleet
    return fleet


def api_key(request: Request) -> str | None:
    """``Authorization: Bearer KEY`` or ``X-BB-API-Key: KEY`` (core/accounts.py)."""
    return api_key_of(request.headers)


async def get_project(request: Request, fleet: Annotated[Fleet, Depends(get_fleet)]) -> ProjectRecord:
    return await fleet.accounts.authenticate(api_key(request))


FleetDep = Annotated[Fleet, Depends(get_fleet)]
ProjectDep = Annotated[ProjectRecord, Depends(get_project)]
