"""Server and store settings: where the API listens, what it hands clients, where data is kept,
the master key of encryption at rest, and the defaults of a new project."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class ServerMixin(BaseModel):
    # --- server -------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    data_dir: Path = Path("./data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite (WAL) under data_dir"
    )
    public_url: str | None = Field(default=None, description="URL clients use to reach this server")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="without public_url: Host header values (host or host:port) kept in the URLs handed "
        "to clients (connectUrl, live, upload and file URLs); any other Host gets the address the "
        "request arrived on, never its own",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="largest request body (413, checked before authentication); the upload routes "
        "have their own: extension_max_bytes, context_max_bytes, session_upload_max_bytes",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    secret_key: str | None = Field(
        default=None,
        description="master key of encryption at rest (saved contexts); must be the same on every "
        "process in distributed mode; unset: generated once into <data_dir>/secret.key",
    )

    # --- web console (browserfleet/console/) ----------------------------------------------------
    console_session_hours: float = Field(
        default=12.0,
        gt=0,
        le=24 * 30,
        description="how long a web console sign-in lasts (its session cookie expires then)",
    )

    # --- accounts -----------------------------------------------------------------------------
    new_project_free_cents: int = Field(default=100_000, ge=0)
    default_concurrency: int = Field(
        default=1000,
        ge=1,
        description="a new project's concurrent jobs of each kind (its fleet's capacity bounds it too)",
    )
    default_job_timeout_s: int = Field(default=120, ge=1)
    auth_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="how long a checked API key is trusted without a database look-up: a key revoked "
        "by another process stops working within this many seconds (at once in the revoking process)",
    )
    result_cache_mb: float = Field(
        default=64.0,
        ge=0,
        description="memory for the encoded responses of finished renders, sessions, runs and tasks, "
        "served to polling clients without the database or blob files (0: off)",
    )
    result_cache_s: float = Field(
        default=600.0,
        ge=0,
        description="longest a finished result's response is served from memory before it is read again",
    )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'browserfleet.db').resolve()}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
