"""``POST /v1/fetch`` (browserbase-compatible): a plain HTTP fetch run by a node, no browser.

Every error body is the Sessions family's ``{statusCode, error, message}`` plus ``id``: the fetch's
job id once one exists, else a fresh request id (validation errors, 429) that names no stored job.
502/504 carry ``x-should-retry: false`` (the SDK would otherwise send the fetch twice more); 429
carries the rate-limit headers and ``x-should-retry: true``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from browserfleet.api.deps import FleetDep, ProjectDep
from browserfleet.api.errors import envelope
from browserfleet.api.sessions.routes import session_envelope, session_message
from browserfleet.api.sessions.schemas import SessionError
from browserfleet.core.accounts import new_id
from browserfleet.core.errors import BrowserfleetError, InvalidRequest
from browserfleet.core.firewall.urls import WEB_URL_SCHEMA, BlockedUrl, check_web_url
from browserfleet.core.sessions.fetch import FetchError

router = APIRouter(prefix="/v1", tags=["sessions"])


class SessionFetchError(SessionError):
    """The Sessions envelope plus the fetch's ``id`` (Browserbase's)."""

    id: str = Field(description="the fetch's id, or a fresh request id when no fetch was made")


@envelope(SessionFetchError)
def fetch_envelope(error: BrowserfleetError) -> JSONResponse:
    response = session_envelope(error)
    body: dict[str, Any] = {
        "statusCode": error.status,
        "error": error.kind,
        "message": session_message(error),
        "id": error.fetch_id if isinstance(error, FetchError) else new_id("fet"),
    }
    headers = {
        k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")
    }
    return JSONResponse(body, status_code=error.status, headers=headers)


class FetchRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    url: str = Field(min_length=1, max_length=8192, json_schema_extra=WEB_URL_SCHEMA)
    allow_redirects: bool = Field(default=False, alias="allowRedirects")
    allow_insecure_ssl: bool = Field(default=False, alias="allowInsecureSsl")
    proxies: bool = False
    # read only to refuse it by name (400): not part of the documented request
    context_id: SkipJsonSchema[str | None] = Field(default=None, alias="contextId")
    format: Literal["raw", "json", "markdown"] = "raw"
    # accepted for compatibility; ``format: json`` returns the parsed body, no schema extraction
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


class FetchResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    status_code: int = Field(alias="statusCode")
    headers: dict[str, str]
    content: str | dict[str, Any] | list[Any] | int | float | bool | None
    content_type: str = Field(alias="contentType")
    encoding: str


def _check_url(url: str) -> str:
    """The firewall's web URL check (core/firewall/urls.py), as a 400 naming the field."""
    try:
        return check_web_url(url)
    except BlockedUrl as exc:
        message = f"url must be an absolute http:// or https:// URL ({exc})"
        raise InvalidRequest(message, details=[{"field": "url", "message": message}]) from exc


@router.post(
    "/fetch",
    response_model=FetchResponse,
    response_model_by_alias=True,
    responses={
        403: {"description": "The egress policy refused the destination (EGRESS_BLOCKED)"},
        429: {"description": "The project's concurrent fetches are at its limit"},
        502: {"description": "The response was too large, TLS failed, or the site could not be reached"},
        503: {"description": "Distributed mode: admission could not be decided in time"},
        504: {"description": "The fetch did not finish within fetch_timeout_s"},
    },
)
async def fetch(body: FetchRequest, project: ProjectDep, fleet: FleetDep) -> FetchResponse:
    url = _check_url(body.url)
    if body.context_id is not None:
        message = "contextId is not supported by /v1/fetch yet (a context's cookies are not sent)"
        raise InvalidRequest(message, details=[{"field": "contextId", "message": message}])
    result = await fleet.fetches.fetch(
        project,
        url=url,
        allow_redirects=body.allow_redirects,
        allow_insecure_ssl=body.allow_insecure_ssl,
        proxies=body.proxies,
        format=body.format,
    )
    return FetchResponse(
        id=result.id,
        status_code=result.status_code,
        headers=result.headers,
        content=result.content,
        content_type=result.content_type,
        encoding=result.encoding,
    )
