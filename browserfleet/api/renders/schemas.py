"""Wire schemas of the Renders API (shared/compat/renders.md); camelCase on the wire."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from browserfleet.core import actions as a
from browserfleet.core.css_selector import check_selector
from browserfleet.core.firewall.urls import WEB_SCHEMES, WEB_URL_SCHEMA, check_web_url, scheme_of
from browserfleet.core.geo import catalogue
from browserfleet.core.renders.spec import CaptchaMode, RenderSpec, ScreenshotSpec

MAX_WAIT_ACTIONS = 10
MAX_FETCH_URLS = 10
WaitTimeout = Annotated[int, Field(ge=1000, le=60000)]
# an http(s) URL: checked by http_url, documented by WEB_URL_SCHEMA
HttpUrl = Annotated[str, Field(json_schema_extra=WEB_URL_SCHEMA)]
# a Playwright selector whose CSS parses (core/css_selector.py): "0" is a 400, not a failed render
Selector = Annotated[str, Field(min_length=1), AfterValidator(check_selector)]


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class DelayWait(_Wire):
    type: Literal["delay"]
    duration: Annotated[int, Field(ge=100, le=60000)]


class SelectorWait(_Wire):
    type: Literal["selector"]
    selector: Selector
    state: Literal["visible", "hidden", "attached"] = "visible"
    timeout: WaitTimeout = 30000


class TextWait(_Wire):
    type: Literal["text"]
    text: str = Field(min_length=1)
    selector: Selector | None = None
    timeout: WaitTimeout = 30000


class ClickWait(_Wire):
    type: Literal["click"]
    selector: Selector
    timeout: WaitTimeout = 30000


WaitAction = Annotated[DelayWait | SelectorWait | TextWait | ClickWait, Field(discriminator="type")]


def http_url(value: str) -> str:
    """The firewall's web URL check (core/firewall/urls.py) in the Browser7 wording."""
    if scheme_of(value) not in WEB_SCHEMES:
        raise ValueError("Invalid URL: must include protocol (http:// or https://)")
    return check_web_url(value)


def _one_place(schema: dict[str, Any]) -> None:
    """Documents what :meth:`GeoCatalogue.resolve` accepts: a supported ``countryCode``, a known
    ``city`` (its catalogue name), and when both are given, a city of that country."""
    geo = catalogue()
    properties = schema["properties"]
    properties["countryCode"]["enum"] = [c.code for c in geo.countries()] + [None]
    properties["city"]["enum"] = [c.name for c in geo.cities()] + [None]
    schema["anyOf"] = [
        {
            "properties": {
                "countryCode": {"enum": [country.code, None]},
                "city": {"enum": [c.name for c in geo.cities(country.code)] + [None]},
            }
        }
        for country in geo.countries()
    ]


class CreateRenderRequest(_Wire):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", json_schema_extra=_one_place)

    url: HttpUrl
    country_code: str | None = Field(default=None, alias="countryCode")
    city: str | None = None
    wait_for: list[WaitAction] = Field(default_factory=list, alias="waitFor", max_length=MAX_WAIT_ACTIONS)
    captcha: CaptchaMode = "disabled"
    block_images: bool = Field(default=True, alias="blockImages")
    fetch_urls: list[HttpUrl] = Field(default_factory=list, alias="fetchUrls", max_length=MAX_FETCH_URLS)
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


class _Billing(_Wire):
    billable: bool = Field(description="whether the render is charged (user-caused outcomes are)")
    charged: bool
    charged_amount_cents: int = Field(alias="chargedAmountCents", ge=0)
    retry_after: int = Field(alias="retryAfter", description="seconds")


class RenderProcessing(_Wire):
    """``GET /v1/renders/{id}`` while the render runs (the routes build the bodies: these models
    document them)."""

    status: Literal["processing"]
    retry_after: int = Field(alias="retryAfter", description="seconds before polling again")


class SelectedCity(_Wire):
    name: str
    display_name: str = Field(alias="displayName")
    latitude: float
    longitude: float
    timezone_id: str = Field(alias="timezoneId")


class RenderCompleted(_Billing):
    status: Literal["completed"]
    html: str | None = Field(description="base64 of the gzip of the page's UTF-8 HTML")
    load_strategy: Literal["default", "custom"] = Field(alias="loadStrategy")
    selected_city: SelectedCity | None = Field(alias="selectedCity")
    bandwidth_metrics: dict[str, Any] | None = Field(
        alias="bandwidthMetrics", description="networkBytes, cachedBytes, cacheHitRate"
    )
    captcha: dict[str, Any] | None = Field(description="detected, handled, sitekey?")
    geo_exit: dict[str, Any] | None = Field(alias="geoExit", description="where a geo-targeted render left")
    timing_breakdown: dict[str, int] | None = Field(
        alias="timingBreakdown", description="…Ms per phase, totalMs"
    )
    fetch_responses: str | None = Field(
        default=None, alias="fetchResponses", description="base64 of the gzip of a JSON array (fetchUrls)"
    )
    screenshot: str | None = Field(default=None, description="base64 image (includeScreenshot)")


class RenderFailed(_Billing):
    """``GET /v1/renders/{id}`` of a failed render: HTTP 422 (docs/errors.md lists the codes)."""

    status: Literal["failed"]
    id: str
    error_code: str | None = Field(alias="errorCode")
    error_message: str | None = Field(alias="errorMessage")
    error: str
    message: str | None


class Region(_Wire):
    code: str
    name: str
    status: Literal["active", "maintenance", "inactive"]


class RegionsResponse(_Wire):
    regions: list[Region]
