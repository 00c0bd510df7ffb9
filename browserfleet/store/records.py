"""Plain, immutable records the store hands to the layers above (never ORM rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from browserfleet.core.jobs import JobKind, JobState, Route


@dataclass(frozen=True)
class ProjectRecord:
    id: str
    name: str
    concurrency_limit: int
    default_timeout_s: int
    monthly_quota: int | None
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored: only its SHA-256 and the first characters (``prefix``) are kept."""

    id: str
    project_id: str
    key_hash: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class JobRecord:
    id: str
    project_id: str
    kind: JobKind
    state: JobState
    route: Route
    spec: dict[str, Any]
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    billable: bool
    charged_cents: int
    attempts: int
    node_id: str | None
    keep_blobs_days: float | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    blobs_purged: bool


@dataclass(frozen=True)
class JobOutcome:
    """What finishing a job writes, atomically with its charge."""

    state: JobState
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    billable: bool = False


@dataclass(frozen=True)
class ContextRecord:
    """A saved browser profile; the profile itself is the blob ``<id>/<blob_name>`` (if any)."""

    id: str
    project_id: str
    name: str | None
    wrapped_private_key: str
    upload_token_hash: str | None
    upload_expires_at: datetime | None
    blob_name: str | None
    data_bytes: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ExtensionRecord:
    """An uploaded Chrome extension; the validated zip is the blob ``<id>/<blob_name>``."""

    id: str
    project_id: str
    file_name: str
    name: str  # the manifest's
    version: str  # the manifest's
    manifest_version: int
    blob_name: str
    zip_bytes: int
    unpacked_bytes: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TaskRecord:
    """An automation task: a saved list of steps (``{uid, action, config}`` dicts, as validated)."""

    id: str
    project_id: str
    name: str
    viewport_width: int
    viewport_height: int
    steps: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TaskRunRecord:
    """A run of a task: its job (state, spec with the steps as run, result with the outputs) and
    what the run adds to it."""

    job: JobRecord
    task_id: str
    webhook_url: str | None
    metadata: Any
    created_at: datetime
    # its webhook delivery (core/automations/webhooks.py), read with the run: None before one exists
    webhook_state: str | None = None
    webhook_attempts: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class WebhookDeliveryRecord:
    """A run's webhook delivery: ``state`` pending | delivered | failed | refused; ``attempts`` in
    order (``{attempt, at, status_code, error, duration_ms}``)."""

    run_id: str
    project_id: str
    url: str
    body: str
    state: str
    attempts: tuple[dict[str, Any], ...]
    next_attempt_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class FeedRecord:
    """A feed over a task's run outputs: ``source`` latest | all; ``fields`` ``[{from, to}]``."""

    id: str
    project_id: str
    task_id: str
    name: str
    description: str | None
    source: str
    fields: list[dict[str, str]] | None
    flatten: str | None
    created_at: datetime
