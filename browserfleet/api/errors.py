"""Mapping core errors to each API family's own error envelope, in one place.

Every family declares an :class:`Envelope` for its path prefixes (browserfleet/families.py); the
app factory hands them to :func:`install` as one :class:`Envelopes` table, and requests outside
any family get the default (the Renders family's ``{"error", "message", "details"?}``). Validation
errors from FastAPI become 400 with ``details``; unknown routes 404; unexpected exceptions 500
without internals.

An :class:`Envelope` is declared with the pydantic model of its body (:func:`envelope`): the
OpenAPI document gives every error response of a path that model (api/openapi.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.exceptions import HTTPException as StarletteHTTPException

from browserfleet.core.errors import BrowserfleetError, InvalidRequest, RateLimited

log = structlog.get_logger(__name__)

Answer = Callable[[BrowserfleetError], JSONResponse]


@dataclass(frozen=True)
class Envelope:
    """How a family answers an error (``answer``), and the pydantic ``model`` of that answer's
    body, which the OpenAPI document gives the family's error responses (api/openapi.py)."""

    model: type[BaseModel]
    answer: Answer

    def __call__(self, error: BrowserfleetError) -> JSONResponse:
        return self.answer(error)


def envelope(model: type[BaseModel]) -> Callable[[Answer], Envelope]:
    """Declares a function answering errors as an :class:`Envelope` whose body is ``model``."""

    def declare(answer: Answer) -> Envelope:
        return Envelope(model, answer)

    return declare


class FieldError(BaseModel):
    """One offending field of a 400."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="the field's path, dotted (e.g. waitFor.0.timeout), or body")
    message: str


class SimpleError(BaseModel):
    """The Renders family's error body (and that of paths outside every family)."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(description="the HTTP reason phrase (Bad Request, Unauthorized, …)")
    message: str
    details: SkipJsonSchema[None] | list[FieldError] = Field(
        default=None, description="400 only: one entry per offending field"
    )


@envelope(SimpleError)
def simple_envelope(error: BrowserfleetError) -> JSONResponse:
    body: dict[str, Any] = {"error": error.kind, "message": error.message}
    if error.details:
        body["details"] = error.details
    headers: dict[str, str] = {}
    if isinstance(error, RateLimited):
        headers = {
            "Retry-After": str(error.retry_after_s),
            "X-RateLimit-Limit": str(error.limit),
            "X-RateLimit-Remaining": str(max(0, error.limit - error.in_use)),
            "x-should-retry": "true",
        }
    return JSONResponse(body, status_code=error.status, headers=headers)


class Envelopes:
    """Which envelope answers a path: the one of the longest prefix it starts with, else
    :func:`simple_envelope`."""

    def __init__(self, by_prefix: Iterable[tuple[str, Envelope]] = ()) -> None:
        self._by_prefix = sorted(by_prefix, key=lambda item: len(item[0]), reverse=True)

    def for_path(self, path: str) -> Envelope:
        return next((env for prefix, env in self._by_prefix if path.startswith(prefix)), simple_envelope)


def envelopes_of(app: FastAPI) -> Envelopes:
    """The table :func:`install` gave ``app``."""
    envelopes: Envelopes = app.state.envelopes
    return envelopes


def validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path"):  # the location, not a field named "query"
            loc = loc[1:]
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        details.append({"field": ".".join(loc) or "body", "message": message})
    return details


def _validation_error(exc: RequestValidationError) -> InvalidRequest:
    details = validation_details(exc)
    first = details[0] if details else {"field": "body", "message": "invalid request"}
    if any(e.get("type") == "json_invalid" for e in exc.errors()):  # loc is a character offset
        body_error = {"field": "body", "message": "JSON decode error"}
        return InvalidRequest("Invalid JSON body", details=[body_error])
    message = first["message"] if first["field"] == "url" else f"{first['field']}: {first['message']}"
    return InvalidRequest(message, details=details)


def install(app: FastAPI, envelopes: Envelopes) -> None:
    """Answer every error of ``app`` in the envelope of its path (kept as ``app.state.envelopes``
    for what answers before the app's handlers, e.g. api/body_limit.py)."""
    app.state.envelopes = envelopes
    envelope_for = envelopes.for_path

    async def on_core(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BrowserfleetError)
        return envelope_for(request.url.path)(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return envelope_for(request.url.path)(_validation_error(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error = BrowserfleetError(str(exc.detail))
        error.status, error.kind = exc.status_code, _reason(exc.status_code)
        response = envelope_for(request.url.path)(error)
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        return response

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api.unhandled", path=request.url.path)
        return envelope_for(request.url.path)(BrowserfleetError("Internal server error"))

    app.add_exception_handler(BrowserfleetError, on_core)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
