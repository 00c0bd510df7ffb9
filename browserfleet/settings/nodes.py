"""Node settings: this process's node (id, labels, slots) and the extra nodes it runs."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class LocalNode(BaseModel):
    """An extra node run by this process (embedded mode): its own labels and slots, the process's
    browser pool, egress proxy and executors (renders, automation runs, browsing tasks)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=100)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    city: str | None = None
    region: str | None = None
    slots: int = Field(default=2, ge=1, le=64)

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class NodeMixin(BaseModel):
    node_id: str = "local-1"
    node_region: str = "local"
    node_region_name: str = "Local"
    node_country: str | None = None
    node_city: str | None = None
    node_slots: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description="renders, automation runs and browsing tasks a node runs at once; unset: sized by "
        "CPU (twice its cores, new ones start while CPU use is under cpu_target)",
    )
    memory_floor_mb: int | None = Field(
        default=None,
        ge=0,
        description="below this much available memory the node takes no new work, and below half of "
        "it ends its newest idle sessions (MEMORY_PRESSURE); unset: 5% of the machine's memory, "
        "at least 256 MB",
    )
    memory_budget_mb: int | None = Field(
        default=None,
        ge=0,
        description="memory (PSS) the node's browsers may use in all; unset: whatever the machine has "
        "above memory_floor_mb",
    )
    cpu_target: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="with node_slots unset: CPU use (share of the node's cores) under which it starts "
        "one more render, run or task beyond one per core",
    )
    max_queued: int | None = Field(
        default=None,
        ge=0,
        description="renders, runs and browsing tasks waiting for a node, fleet-wide, before new ones "
        "get 429 with Retry-After; unset: 50 per CPU slot of the fleet",
    )
    local_nodes: list[LocalNode] = Field(
        default_factory=list,
        description="extra nodes in this process, JSON list of {id, country?, city?, region?, slots?}",
    )

    @model_validator(mode="after")
    def _check_local_nodes(self) -> Self:
        ids = [self.node_id, *(n.id for n in self.local_nodes)]
        if len(set(ids)) != len(ids):
            raise ValueError("local_nodes ids must be unique and differ from node_id")
        return self
