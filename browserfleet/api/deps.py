"""Request dependencies shared by every family: the fleet, and the caller's project.

The API key's two carriers are declared as security schemes (:data:`BEARER`, :data:`BB_API_KEY`):
every route that depends on :func:`request_key` (through :data:`ProjectDep` or a family's own
project dependency) documents them, as alternatives, in the OpenAPI document.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from browserfleet.core.accounts import api_key_of
from browserfleet.core.security_schemes import BB_API_KEY, BEARER
from browserfleet.fleet import Fleet
from browserfleet.store.records import ProjectRecord

ADMIN_KEY = HTTPBearer(
    scheme_name="AdminKey",
    auto_error=False,
    description="`Authorization: Bearer <admin key>` (the admin_key setting), never a project's key",
)
API_KEY_SCHEMES = frozenset({"BearerAuth", "BrowserbaseAuth", "AdminKey"})  # a refusal is a 401


async def get_fleet(request: Request) -> Fleet:
    fleet: Fleet = request.app.state.fleet
    return fleet


def api_key(request: Request) -> str | None:
    """``Authorization: Bearer KEY`` or ``X-BB-API-Key: KEY`` (core/accounts.py)."""
    return api_key_of(request.headers)


async def request_key(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER)],
    _header: Annotated[str | None, Security(BB_API_KEY)],
) -> str | None:
    """The request's API key (:func:`api_key`), with its carriers documented."""
    return api_key(request)


async def get_project(
    key: Annotated[str | None, Depends(request_key)], fleet: Annotated[Fleet, Depends(get_fleet)]
) -> ProjectRecord:
    return await fleet.accounts.authenticate(key)


FleetDep = Annotated[Fleet, Depends(get_fleet)]
KeyDep = Annotated[str | None, Depends(request_key)]
ProjectDep = Annotated[ProjectRecord, Depends(get_project)]
