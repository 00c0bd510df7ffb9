"""Browsing task settings: the agent's model (an OpenAI-compatible chat-completions API) and the
tasks it runs (see docs/browsing.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class BrowsingMixin(BaseModel):
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible chat-completions base URL, e.g. https://api.openai.com/v1",
    )
    llm_api_key: SecretStr | None = Field(default=None, description="the model provider's key (never logged)")
    llm_model: str | None = Field(default=None, description="model name (a template may name another)")
    llm_timeout_s: float = Field(default=120.0, gt=0, description="one chat completion")
    llm_vision: bool = Field(default=False, description="the model accepts images (screenshots)")
    llm_tool_choice: Literal["required", "auto"] = Field(
        default="required", description="tool_choice sent with each step (auto: for servers without required)"
    )
    browsing_templates_dir: Path | None = Field(
        default=None, description="folder of browsing templates (<stem>.yaml/.yml/.json), read at start"
    )
    browsing_default_timeout_s: float = Field(
        default=600.0, gt=0, le=10_800, description="a task's timeout when the request has none"
    )
    browsing_sync_wait_s: float = Field(
        default=600.0, gt=0, description="POST /api/v1/browsing/sync: longest wait (then 504)"
    )
    browsing_session_idle_s: float = Field(
        default=300.0, gt=0, description="a session_key's browser is closed after this long unused"
    )
    browsing_screenshot_days: float = Field(
        default=5.0, gt=0, le=5, description="how long a task's screenshots are kept"
    )
