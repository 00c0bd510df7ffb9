"""How an API key travels, as OpenAPI security schemes (shared by the control plane's routes and
a node's session routes). Documentation only: ``auto_error=False``, they refuse nothing —
``core.accounts.api_key_of`` reads the key."""

from __future__ import annotations

from fastapi.security import APIKeyHeader, HTTPBearer

__all__ = ["BB_API_KEY", "BEARER"]

BEARER = HTTPBearer(
    scheme_name="BearerAuth", auto_error=False, description="`Authorization: Bearer <API key>`"
)
BB_API_KEY = APIKeyHeader(
    name="X-BB-API-Key",
    scheme_name="BrowserbaseAuth",
    auto_error=False,
    description="The API key in `X-BB-API-Key` (the Browserbase SDK's header)",
)
