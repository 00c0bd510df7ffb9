"""Wire schemas of the Renders API (shared/compat/renders.md); camelCase on the wire."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from browserfleet.core import actions as a
from browserfleet.core.firewall.urls import WEB_SCHEMES, check_web_url, scheme_of
from browserfleet.core.renders.spec import CaptchaMode, RenderSpec, ScreenshotSpec

MAX_WAIT_ACTIONS = 10
MAX_FETCH_URLS = 10
WaitTimeout = Annotated[int, Field(ge=1000, le=60000)]


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class DelayWait(_Wire):
    type: Literal["delay"]
    duration: Annotated[int, Field(ge=100, le=60000)]


class SelectorWait(_Wire):
    type: Literal["selector"]
    selector: str = Field(min_length=1)
    state: Literal["visible", "hidden", "attached"] = "visible"
    timeout: WaitTimeout = 30000


class TextWait(_Wire):
    type: Literal["text"]
    text: str = Field(min_length=1)
    selector: str | None = None
    timeout: WaitTimeout = 30000


class ClickWait(_Wire):
    type: Literal["click"]
    selector: str = Field(min_length=1)
    timeout: WaitTimeout = 30000


WaitAction = Annotated[DelayWait | SelectorWait | TextWait | ClickWait, Field(discriminator="type")]


def http_url(value: str) -> str:
    """The firewall's web URL check (core/firewall/urls.py) in the Browser7 wording."""
    if scheme_of(value) not in WEB_SCHEMES:
        raise ValueError("Invalid URL: must include protocol (http:// or https://)")
    return check_web_url(value)


class CreateRenderRequest(_Wire):
    url: str
    country_code: str | None = Field(default=None, alias="countryCode")
    city: str | None = None
    wait_for: list[WaitAction] = Field(default_factory=list, alias="waitFor", max_length=MAX_WAIT_ACTIONS)
    captcha: CaptchaMode = "disabled"
    block_images: bool = Field(default=True, alias="blockImages")
    fetch_urls: list[str] = Field(default_factory=list, alias="fetchUrls", max_length=MAX_FETCH_URLS)
    include_screenshot: bool = Field(default=False, alias="includeScreenshot")
    screenshot_format: Literal["jpeg", "png"] = Field(default="jpeg", alias="screenshotFormat")
    screenshot_quality: int | None = Field(default=None, alias="screenshotQuality", ge=1, le=100)
    screenshot_full_page: bool = Field(default=False, alias="screenshotFullPage")
    debug: bool = False
    force_new_proxy: bool = Field(default=False, alias="forceNewProxy")

    _check_url = field_validator("url")(http_url)

    @field_validator("fetch_urls")
    @classmethod
    def _check_fetch_urls(cls, urls: list[str]) -> list[str]:
        return [http_url(u) for u in urls]

    def to_spec(self, city: str | None) -> RenderSpec:
        screenshot = None
        if self.include_screenshot:
            quality = self.screenshot_quality or 80 if self.screenshot_format == "jpeg" else None
            screenshot = ScreenshotSpec(
                format=self.screenshot_format, quality=quality, full_page=self.screenshot_full_page
            )
        return RenderSpec(
            url=self.url,
            city=city,
            wait_for=[to_action(w) for w in self.wait_for],
            block_images=self.block_images,
            fetch_urls=self.fetch_urls,
            screenshot=screenshot,
            captcha=self.captcha,
            debug=self.debug,
            force_new_proxy=self.force_new_proxy,
        )


def to_action(wait: DelayWait | SelectorWait | TextWait | ClickWait) -> a.Action:
    """Browser7 ``waitFor`` → the shared action vocabulary."""
    match wait:
        case DelayWait():
            return a.Delay(duration_ms=wait.duration)
        case SelectorWait():
            return a.WaitForSelector(selector=wait.selector, state=wait.state, timeout_ms=wait.timeout)
        case TextWait():
            return a.WaitForText(text=wait.text, selector=wait.selector, timeout_ms=wait.timeout)
        case ClickWait():
            return a.Click(selector=wait.selector, timeout_ms=wait.timeout)


class CreateRenderResponse(_Wire):
    render_id: str = Field(serialization_alias="renderId")


class Region(_Wire):
    code: str
    name: str
    status: Literal["active", "maintenance", "inactive"]


class RegionsResponse(_Wire):
    regions: list[Region]
