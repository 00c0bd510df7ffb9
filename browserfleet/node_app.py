"""The node process of distributed mode (``browserfleet node``): a node and its internal app.

The process runs one :class:`~browserfleet.fleet.Fleet` with ``run_nodes=True, own_jobs=False``:
browsers, egress proxy, executors and slots that claim tickets from Redis, and none of the control
plane's upkeep. Its small HTTP/WebSocket app, served on ``host:port`` and announced as
``advertise_url``, answers what only the node can — a live session's CDP, WebDriver, live view,
DevTools, uploads… — for requests the control plane relays (api/relay.py). Every request but
``GET /health`` must carry the shared ``node_secret``; clients never talk to a node directly.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from browserfleet.api import body_limit, errors, openapi
from browserfleet.core.public_base import RELAYED
from browserfleet.dispatch.constants import NODE_SECRET_HEADER
from browserfleet.families import SESSIONS, envelopes
from browserfleet.fleet import VERSION, Fleet
from browserfleet.node.pool import BrowserPool
from browserfleet.settings import Settings

PUBLIC_PATHS = frozenset({"/health"})


class NodeSecretGate:
    """Refuses (403) every request without the shared secret; a WebSocket is refused during the
    handshake, before the session's browser is reached."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.secret = secret.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self._ok(scope):
            scope[RELAYED] = True  # the control plane chose the Host header (core/public_base.py)
            await self.app(scope, receive, send)
            return
        if scope["type"] not in ("http", "websocket") or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4403, "reason": ""})
            return
        body = {"statusCode": 403, "error": "Forbidden", "message": "Node endpoints need the node secret"}
        await JSONResponse(body, status_code=403)(scope, receive, send)

    def _ok(self, scope: Scope) -> bool:
        name = NODE_SECRET_HEADER.encode()
        given = next((v for k, v in scope.get("headers", ()) if k.lower() == name), b"")
        return bool(self.secret) and hmac.compare_digest(given, self.secret)


def create_node_app(settings: Settings, *, pool: BrowserPool | None = None) -> FastAPI:
    fleet = Fleet(settings, pool=pool)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await fleet.start(run_nodes=True, own_jobs=False)
        app.state.fleet = fleet
        try:
            yield
        finally:
            await fleet.stop()

    app = FastAPI(
        title="browserfleet node", version=VERSION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    errors.install(app, envelopes([SESSIONS]))
    openapi.install(app)
    for router in SESSIONS.node_routers:  # what the relay sends here: a live session's endpoints
        app.include_router(router)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": VERSION,
            "nodes": [n.labels.node_id for n in fleet.nodes],
            "inUse": sum(n.in_use for n in fleet.nodes),
            "liveSessions": len(fleet.live_sessions),
        }

    body_limit.install(app, settings)  # relayed uploads: the same limits as the control plane's
    secret = settings.node_secret.get_secret_value() if settings.node_secret else ""
    app.add_middleware(NodeSecretGate, secret=secret)
    return app
