"""The request body size limit, applied before anything else reads the body — authentication
included: a client without a key cannot make the server hold a large body.

A pure ASGI middleware (nothing is buffered here): a request whose ``Content-Length`` is over its
route's limit is answered 413 at once, its body never read; a body without one (chunked) is
counted as the app reads it, and reading past the limit raises :class:`BodyTooLarge`, which the
app answers 413 — in both cases in the family's error envelope (api/errors.py). The limit is
``max_body_bytes`` (1 MiB by default), except on the upload routes, which have their own settings
and check the file itself too: ``POST /v1/extensions`` (``extension_max_bytes``), ``PUT|POST
/v1/contexts/{id}/upload`` (``context_max_bytes``), ``POST /v1/sessions/{id}/uploads``
(``session_upload_max_bytes``), each plus its framing overhead; the web console's uploads of
extensions and context profiles have the same limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from browserfleet.api.errors import Envelopes, envelopes_of
from browserfleet.api.sessions.contexts import UPLOAD_OVERHEAD
from browserfleet.core.errors import PayloadTooLarge
from browserfleet.core.multipart import MULTIPART_OVERHEAD
from browserfleet.settings import Settings


class BodyTooLarge(StarletteHTTPException):
    """Raised while the app reads a body past its limit (an HTTPException, so FastAPI's body
    parsing lets it through instead of calling it a malformed body)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"The request body is larger than the {limit} byte limit of this route"


@dataclass(frozen=True)
class RouteLimit:
    methods: frozenset[str]
    path: re.Pattern[str]
    max_bytes: int


def route_limits(settings: Settings) -> list[RouteLimit]:
    """The upload routes' own limits (see the module)."""

    def route(methods: set[str], pattern: str, max_bytes: int) -> RouteLimit:
        return RouteLimit(frozenset(methods), re.compile(pattern), max_bytes)

    return [
        route({"POST"}, r"^/v1/extensions/?$", settings.extension_max_bytes + MULTIPART_OVERHEAD),
        route(
            {"PUT", "POST"},
            r"^/v1/contexts/[^/]+/upload/?$",
            settings.context_max_bytes + UPLOAD_OVERHEAD,
        ),
        route(
            {"POST"},
            r"^/v1/sessions/[^/]+/uploads/?$",
            settings.session_upload_max_bytes + MULTIPART_OVERHEAD,
        ),
        # the web console's uploads of the same files (a form: the file plus its CSRF token)
        route(
            {"POST"}, r"^/console/library/extensions/?$", settings.extension_max_bytes + MULTIPART_OVERHEAD
        ),
        route(
            {"POST"},
            r"^/console/library/contexts/[^/]+/upload/?$",
            settings.context_max_bytes + MULTIPART_OVERHEAD,
        ),
    ]


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, routes: list[RouteLimit], envelopes: Envelopes) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.routes = routes
        self.envelopes = envelopes

    def limit_for(self, method: str, path: str) -> int:
        for route in self.routes:
            if method in route.methods and route.path.match(path):
                return route.max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:  # answered unread
            await self._too_large(scope, limit)(scope, receive, send)
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:  # read outside the app's error handling: answer it here if still possible
            if started:
                raise
            await self._too_large(scope, limit)(scope, receive, send)

    def _too_large(self, scope: Scope, limit: int) -> JSONResponse:
        response = self.envelopes.for_path(scope["path"])(PayloadTooLarge(too_large_message(limit)))
        response.headers["connection"] = "close"  # the rest of the body is not read
        return response


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


def install(app: FastAPI, settings: Settings) -> None:
    """The middleware (``max_body_bytes``, upload routes' own limits) and the 413 of a body that
    grew past its limit while the app read it. After :func:`browserfleet.api.errors.install`: the
    413s use the app's envelopes."""
    envelopes = envelopes_of(app)

    async def on_too_large(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BodyTooLarge)
        response = envelopes.for_path(request.url.path)(PayloadTooLarge(str(exc.detail)))
        response.headers["connection"] = "close"
        return response

    app.add_exception_handler(BodyTooLarge, on_too_large)
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, routes=route_limits(settings), envelopes=envelopes
    )
