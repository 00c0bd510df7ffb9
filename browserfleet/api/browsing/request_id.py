"""``X-Request-ID``: echoed on every response under a path prefix (generated when absent or
unusable), and bound to the request's log lines. A pure ASGI middleware, so error responses
(401, 404, 405 from routing) carry it too."""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_USABLE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            await self.app(scope, receive, send_with_id)


def _request_id(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == HEADER:
            given = str(value.decode("latin-1")).strip()
            if _USABLE.match(given):
                return given
    return uuid.uuid4().hex
