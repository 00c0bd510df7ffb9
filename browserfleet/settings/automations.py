"""Automation settings: quotas and rate limits of tasks and runs, how long a run and its files
last, and the webhooks a run calls."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class AutomationMixin(BaseModel):
    automation_default_quota: int = Field(
        default=36_000, ge=0, description="runs per month of a project without a quota of its own"
    )
    automation_rate_limit: int = Field(default=30, ge=1, description="requests per key per window (429)")
    automation_rate_window_s: float = Field(default=10.0, gt=0)
    automation_run_timeout_s: float = Field(default=300.0, gt=0, description="a whole run, every step")
    automation_file_retention_days: float = Field(
        default=30.0, gt=0, description="how long a run's files and video are kept"
    )
    automation_file_url_ttl_s: int = Field(
        default=86400,
        ge=1,
        description="a run's signed file URLs work at least this long after they are handed out (at "
        "most twice as long), and never once the run or its task is deleted",
    )
    ffmpeg_path: Path = Field(
        default=Path("/usr/bin/ffmpeg"),
        description="ffmpeg (Debian package) that encodes run videos and session recording downloads",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="one webhook attempt (connect to answer)"
    )
    webhook_max_attempts: int = Field(default=6, ge=1, le=20, description="attempts per run's webhook")
    webhook_backoff_s: float = Field(
        default=2.0, gt=0, description="delay before the 2nd webhook attempt; doubles each time after"
    )
