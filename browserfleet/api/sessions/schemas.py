"""Wire schemas of the Sessions API (shared/compat/sessions.md); camelCase on the wire.

Every request field of ``POST /v1/sessions`` is accepted (unknown fields are ignored) and shaped
here into a :class:`SessionRequest`; core validates what needs the fleet (timeout bounds, proxies,
contexts) and the node honours the rest (docs/sessions.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from browserfleet.core.sessions import DEFAULT_MIN_TIMEOUT_S, MAX_TIMEOUT_S, SessionRequest
from browserfleet.core.sessions.wire import URI, omitted

Region = Literal["us-west-2", "us-east-1", "eu-central-1", "ap-southeast-1"]
Status = Literal["PENDING", "RUNNING", "ERROR", "TIMED_OUT", "COMPLETED"]
OS = Literal["windows", "mac", "linux", "mobile", "tablet"]


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class SessionError(BaseModel):
    """The Sessions family's error body (Browserbase's)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True, extra="forbid")

    status_code: int = Field(alias="statusCode", description="the HTTP status")
    error: str = Field(description="the HTTP reason phrase (Bad Request, Unauthorized, …)")
    message: str


class Viewport(_Wire):
    width: Annotated[int, Field(ge=1, le=10000)] | None = None
    height: Annotated[int, Field(ge=1, le=10000)] | None = None


class ContextRef(_Wire):
    id: str = Field(min_length=1)
    persist: bool = False


class BrowserSettings(_Wire):
    context: ContextRef | None = None
    extension_id: str | None = Field(default=None, alias="extensionId")
    viewport: Viewport | None = None
    block_ads: bool = Field(default=False, alias="blockAds")
    solve_captchas: bool = Field(default=True, alias="solveCaptchas")
    record_session: bool = Field(default=True, alias="recordSession")
    log_session: bool = Field(default=True, alias="logSession")
    advanced_stealth: bool = Field(default=False, alias="advancedStealth")
    verified: bool = False
    os: OS | None = None
    allowed_domains: list[str] = Field(default_factory=list, alias="allowedDomains")
    ignore_certificate_errors: bool = Field(default=False, alias="ignoreCertificateErrors")
    captcha_image_selector: str | None = Field(default=None, alias="captchaImageSelector")
    captcha_input_selector: str | None = Field(default=None, alias="captchaInputSelector")


class Geolocation(_Wire):
    country: str = Field(min_length=2)
    city: str | None = None
    state: str | None = None


class BrowserbaseProxy(_Wire):
    type: Literal["browserbase"]
    geolocation: Geolocation | None = None
    domain_pattern: str | None = Field(default=None, alias="domainPattern")


class ExternalProxy(_Wire):
    type: Literal["external"]
    server: str = Field(min_length=1)
    username: str | None = None
    password: str | None = None
    domain_pattern: str | None = Field(default=None, alias="domainPattern")


class NoProxy(_Wire):
    type: Literal["none"]
    domain_pattern: str | None = Field(default=None, alias="domainPattern")


ProxyConfig = Annotated[BrowserbaseProxy | ExternalProxy | NoProxy, Field(discriminator="type")]


class CreateSessionRequest(_Wire):
    project_id: str | None = Field(default=None, alias="projectId")
    extension_id: str | None = Field(default=None, alias="extensionId")
    keep_alive: bool = Field(default=False, alias="keepAlive")
    # the lower bound is the operator's (session_min_timeout_s, 60 by default), checked in core;
    # the schema documents the default (core/sessions/service.py)
    timeout: (
        Annotated[
            int,
            Field(
                ge=1,
                le=MAX_TIMEOUT_S,
                json_schema_extra={"minimum": DEFAULT_MIN_TIMEOUT_S},
                description=(
                    f"seconds, {DEFAULT_MIN_TIMEOUT_S} to {MAX_TIMEOUT_S} (the operator may lower the "
                    "minimum: session_min_timeout_s); default the project's defaultTimeout"
                ),
            ),
        ]
        | None
    ) = None
    region: Region | None = None
    user_metadata: dict[str, Any] | None = Field(default=None, alias="userMetadata")
    proxies: bool | list[ProxyConfig] | None = None
    proxy_settings: dict[str, Any] | None = Field(default=None, alias="proxySettings")
    browser_settings: BrowserSettings | None = Field(default=None, alias="browserSettings")

    def to_request(self) -> SessionRequest:
        settings = self.browser_settings or BrowserSettings()
        viewport = None
        if settings.viewport is not None:
            viewport = settings.viewport.model_dump(exclude_none=True) or None
        return SessionRequest(
            timeout_s=self.timeout,
            keep_alive=self.keep_alive,
            region=self.region,
            user_metadata=self.user_metadata,
            context_id=settings.context.id if settings.context else None,
            context_persist=bool(settings.context and settings.context.persist),
            extension_id=self.extension_id or settings.extension_id,
            proxies=(
                self.proxies
                if isinstance(self.proxies, bool | None)
                else [p.model_dump(mode="json", by_alias=True, exclude_none=True) for p in self.proxies]
            ),
            viewport=viewport,
            os=settings.os,
            browser_settings=settings.model_dump(mode="json", by_alias=True, exclude_none=True),
        )


class UpdateSessionRequest(_Wire):
    status: Literal["REQUEST_RELEASE"]
    project_id: str | None = Field(default=None, alias="projectId")


class SessionModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    started_at: datetime = Field(alias="startedAt")
    expires_at: datetime = Field(alias="expiresAt")
    project_id: str = Field(alias="projectId")
    status: Status
    proxy_bytes: int = Field(alias="proxyBytes")
    keep_alive: bool = Field(alias="keepAlive")
    region: Region
    context_id: str | SkipJsonSchema[None] = omitted("contextId")
    ended_at: datetime | SkipJsonSchema[None] = omitted("endedAt")
    user_metadata: dict[str, Any] | SkipJsonSchema[None] = omitted("userMetadata")


class SessionWithConnect(SessionModel):
    """A session; ``connectUrl``, ``seleniumRemoteUrl`` and ``signingKey`` while it runs."""

    connect_url: str | SkipJsonSchema[None] = omitted("connectUrl", format="uri")
    selenium_remote_url: str | SkipJsonSchema[None] = omitted("seleniumRemoteUrl", format="uri")
    signing_key: str | SkipJsonSchema[None] = omitted("signingKey")


class CreatedSession(SessionModel):
    connect_url: str = Field(alias="connectUrl", json_schema_extra=URI)
    selenium_remote_url: str = Field(alias="seleniumRemoteUrl", json_schema_extra=URI)
    signing_key: str = Field(alias="signingKey")
