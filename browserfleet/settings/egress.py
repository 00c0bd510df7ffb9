"""Egress settings: which networks browsers may reach, and the upstream proxies (exits per place)
their traffic leaves through (docs/proxies.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class EgressMixin(BaseModel):
    # --- egress -------------------------------------------------------------------------------
    allow_private_networks: bool = False
    egress_allow: list[str] = Field(
        default_factory=list, description="CIDRs reachable even though private (e.g. 10.1.0.0/16)"
    )

    # --- geo proxies (upstream exits per place) -----------------------------------------------
    proxies: list[dict[str, Any]] = Field(
        default_factory=list,
        description="upstream proxies: [{url, country, city?, sticky?}] (see docs/proxies.md)",
    )
    proxy_file: Path | None = Field(default=None, description="YAML file declaring upstream proxies")
    require_geo_proxy: bool = False
    session_proxy_direct_fallback: bool = Field(
        default=False,
        description="sessions' proxies: true / browserbase rules leave directly when no exit proxy is "
        "configured (default: 400 naming proxies / proxy_file)",
    )
    proxy_failures_before_cooldown: int = Field(default=3, ge=1)
    proxy_cooldown_s: float = Field(default=60.0, gt=0)
