"""Render settings: how long a render may take, the contexts kept ready for renders, and how long
renders and their blobs are kept (the retention purge)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator


class RenderMixin(BaseModel):
    render_timeout_s: float = Field(default=120.0, gt=0)
    render_navigation_timeout_s: float = Field(default=60.0, gt=0)
    render_warm_contexts: int = Field(
        default=4,
        ge=0,
        le=32,
        description="ready isolated contexts per browser, made before renders arrive, each used by one "
        "render of the default shape (the node's place, images blocked, no exit proxy); 0: none",
    )
    render_warm_idle_s: float = Field(
        default=60.0, gt=0, description="with no render for this long, one ready context per browser stays"
    )
    api_retention_hours: float = Field(default=24.0, gt=0)
    debug_retention_days: float = Field(default=7.0, gt=0)
    retention_days: float = Field(default=365.0, gt=0)
    purge_interval_s: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.retention_days * 24 < self.api_retention_hours:
            raise ValueError("retention_days must cover api_retention_hours")
        if self.debug_retention_days > self.retention_days:
            raise ValueError("debug_retention_days cannot exceed retention_days")
        return self
