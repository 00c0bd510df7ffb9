"""Captcha solving settings: the createTask/getTaskResult service pages' captchas are sent to."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CaptchaMixin(BaseModel):
    captcha_solver_url: str | None = Field(
        default=None, description="createTask/getTaskResult API base URL (2Captcha, CapSolver, Anti-Captcha…)"
    )
    captcha_solver_key: str | None = Field(default=None, description="the solver's client key (never logged)")
    captcha_timeout_s: float = Field(default=120.0, gt=0)
    captcha_poll_interval_s: float = Field(default=3.0, gt=0)
