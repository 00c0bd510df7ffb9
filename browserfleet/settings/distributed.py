"""Distributed mode settings: control planes and nodes on Redis + PostgreSQL (docs/distributed.md).

Distributed mode shares the server's store and secrets between processes, so its checks read the
server settings too: this mixin extends :class:`ServerMixin`.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator

from browserfleet.settings.server import ServerMixin


class DistributedMixin(ServerMixin):
    redis_url: str | None = Field(
        default=None, description="Redis URL (redis://host:6379/0); set: distributed mode"
    )
    redis_prefix: str = Field(
        default="bf", pattern=r"^[A-Za-z0-9_.-]+$", description="prefix of every Redis key of this fleet"
    )
    node_ttl_s: float = Field(
        default=15.0, ge=0.5, le=600, description="a node silent this long is gone; its jobs run elsewhere"
    )
    node_secret: SecretStr | None = Field(
        default=None, description="shared secret of control plane → node requests; same on every process"
    )
    advertise_url: str | None = Field(
        default=None, description="where the control plane reaches this node (default http://host:port)"
    )
    blob_backend: Literal["auto", "files", "database"] = Field(
        default="auto", description="auto: database when distributed, else files under data_dir"
    )
    admin_key: SecretStr | None = Field(
        default=None, description="bearer key of the admin API (GET /v1/nodes); unset: it answers 403"
    )

    @model_validator(mode="after")
    def _check_distributed(self) -> Self:
        if not self.redis_url:
            return self
        if not self.database_url or self.database_url.startswith("sqlite"):
            raise ValueError("distributed mode (redis_url) needs a shared database_url (PostgreSQL)")
        if not (self.node_secret and self.node_secret.get_secret_value()):
            raise ValueError("distributed mode (redis_url) needs node_secret (BROWSERFLEET_NODE_SECRET)")
        if not self.secret_key:
            raise ValueError("distributed mode (redis_url) needs the same secret_key on every process")
        return self

    @property
    def distributed(self) -> bool:
        return bool(self.redis_url)

    @property
    def advertised_url(self) -> str:
        return self.advertise_url or f"http://{self.host}:{self.port}"
