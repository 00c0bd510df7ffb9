"""What a render job asks of a node: the Renders API request, translated into core terms."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from browserfleet.core.actions import Action

CaptchaMode = Literal["disabled", "auto", "recaptcha_v2", "recaptcha_v3", "turnstile"]


class ScreenshotSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    format: Literal["jpeg", "png"] = "jpeg"
    quality: int | None = Field(default=None, ge=1, le=100)
    full_page: bool = False


class RenderSpec(BaseModel):
    """Stored as the job's ``spec``; the render executor reads it back."""

    model_config = ConfigDict(frozen=True)
    url: str
    city: str | None = None
    wait_for: list[Action] = Field(default_factory=list)
    block_images: bool = True
    fetch_urls: list[str] = Field(default_factory=list)
    screenshot: ScreenshotSpec | None = None
    captcha: CaptchaMode = "disabled"
    debug: bool = False
    force_new_proxy: bool = False
    timeout_s: float = 120.0

    @property
    def load_strategy(self) -> Literal["default", "custom"]:
        return "custom" if self.wait_for else "default"
