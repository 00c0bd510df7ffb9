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

    # --- accounts -----------------------------------------------------------------------------
    new_project_free_cents: int = Field(default=100_000, ge=0)
    default_concurrency: int = Field(default=10, ge=1)
    default_job_timeout_s: int = Field(default=120, ge=1)

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
