"""The control plane's relay to nodes: a session's node-local endpoints, answered by its node.

In distributed mode a session's browser runs on one node process, but its ``connectUrl``,
``seleniumRemoteUrl``, live view, DevTools, uploads… point at the control plane. This ASGI
middleware sees requests under ``/v1/sessions/{id}/<node-local endpoint>``; when the session runs
on another process's node (core/placement.py) it pipes the request — HTTP or WebSocket — to that
node's advertised URL, adding the shared ``node_secret`` (the node's internal app, node_app.py,
refuses anything without it). The node authenticates the client (signing key or API key) exactly
as the control plane would, before anything reaches the browser; a refused WebSocket handshake is
refused here too (HTTP 403). Everything else, and every request in embedded mode, passes through.

Which endpoints are node-local is not kept here: the app factory (app.py) hands :class:`NodeRelay`
the first path segments the node-local router serves (node/session/routes/, which node_app.py
serves too), so an endpoint added there is relayed without touching this module.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator

import httpx
import structlog
import websockets
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from browserfleet.core.http import OutboundClient, outbound_client
from browserfleet.core.placement import running_elsewhere
from browserfleet.core.public_base import base_url
from browserfleet.core.ws_pipe import UPSTREAM_ERRORS, both_ways, open_upstream
from browserfleet.dispatch.constants import NODE_SECRET_HEADER

log = structlog.get_logger(__name__)
_PATH = re.compile(r"^/v1/sessions/(?P<id>[A-Za-z0-9_.-]+)/(?P<first>[^/]+)(?:/.*)?$")
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer"}
    | {"transfer-encoding", "upgrade", "host", "content-length"}
)
_WS_HEADERS = ("authorization", "x-bb-signing-key", "x-bb-api-key", "cookie", "origin", "user-agent")
_TIMEOUT = httpx.Timeout(connect=5.0, read=600.0, write=60.0, pool=5.0)
CLOSE_REFUSED = 4403


class NodeRelay:
    """``node_local``: the first path segments under ``/v1/sessions/{id}/`` a session's node
    answers (``connect``, ``webdriver``, ``live``…)."""

    def __init__(self, app: ASGIApp, node_local: frozenset[str]) -> None:
        self.app = app
        self.node_local = node_local

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = await self._target(scope)
        if target is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await _relay_websocket(scope, receive, send, target, _secret(scope))
        else:
            await self._relay_http(scope, receive, send, target)

    async def _target(self, scope: Scope) -> str | None:
        """The node URL of this request's session, when it must be relayed."""
        if scope["type"] not in ("http", "websocket"):
            return None
        match = _PATH.match(scope["path"])
        if match is None or match["first"] not in self.node_local:
            return None
        fleet = scope["app"].state.fleet
        if not fleet.settings.distributed or fleet.live_sessions.get(match["id"]) is not None:
            return None
        local = {node.labels.node_id for node in fleet.nodes}
        url: str | None = await running_elsewhere(fleet.store, fleet.dispatcher.registry, match["id"], local)
        return url.rstrip("/") if url else None

    async def _relay_http(self, scope: Scope, receive: Receive, send: Send, target: str) -> None:
        request = Request(scope, receive)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        headers += _forwarded(scope)
        headers.append((NODE_SECRET_HEADER, _secret(scope)))
        query = scope["query_string"].decode()
        url = f"{target}{scope['path']}" + (f"?{query}" if query else "")
        client = outbound_client(timeout=_TIMEOUT)
        outgoing = client.build_request(request.method, url, headers=headers, content=_body(request))
        try:
            upstream = await client.send(outgoing, stream=True)
        except httpx.HTTPError as exc:
            await client.aclose()
            log.warning("relay.node_unreachable", url=target, error=type(exc).__name__)
            await _unavailable()(scope, receive, send)
            return
        kept = [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in _HOP_BY_HOP]
        length = upstream.headers.get("content-length")
        if length is not None:
            kept.append(("content-length", length))
        response = StreamingResponse(
            _stream(upstream, client), status_code=upstream.status_code, headers=_merge(kept)
        )
        await response(scope, receive, send)


def _secret(scope: Scope) -> str:
    secret = scope["app"].state.fleet.settings.node_secret
    return str(secret.get_secret_value()) if secret is not None else ""


def _forwarded(scope: Scope) -> list[tuple[str, str]]:
    """What the node needs to build client-facing URLs as the control plane would: the base URL
    this control plane hands clients (core/public_base.py — never a foreign Host header); the node
    trusts it because the request carries the node secret."""
    proto, _, rest = base_url(scope, scope["app"].state.fleet.settings).partition("://")
    return [("host", rest), ("x-forwarded-proto", proto)]


def _merge(items: list[tuple[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for key, value in items:
        merged[key] = f"{merged[key]}, {value}" if key in merged and key != "set-cookie" else value
    return merged


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _stream(upstream: httpx.Response, client: OutboundClient) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        await upstream.aclose()
        await client.aclose()


def _unavailable() -> JSONResponse:
    body = {"statusCode": 503, "error": "Service Unavailable", "message": "The session's node did not answer"}
    return JSONResponse(body, status_code=503)


async def _relay_websocket(scope: Scope, receive: Receive, send: Send, target: str, secret: str) -> None:
    client = WebSocket(scope, receive, send)
    headers = [(k, v) for k, v in client.headers.items() if k.lower() in _WS_HEADERS]
    headers.append((NODE_SECRET_HEADER, secret))
    query = scope["query_string"].decode()
    url = "ws" + target.removeprefix("http") + scope["path"] + (f"?{query}" if query else "")
    protocols = list(scope.get("subprotocols") or [])
    try:
        upstream = await open_upstream(url, headers=headers, subprotocols=protocols or None)
    except websockets.InvalidStatus:
        await client.close(code=CLOSE_REFUSED)  # before accept: the client sees HTTP 403
        return
    except UPSTREAM_ERRORS as exc:
        log.warning("relay.node_unreachable", url=target, error=type(exc).__name__)
        await client.close(code=1011)
        return
    await client.accept(subprotocol=upstream.subprotocol)
    try:
        await _pipe(client, upstream)
    finally:
        with contextlib.suppress(Exception):
            await upstream.close()


async def _pipe(client: WebSocket, upstream: websockets.ClientConnection) -> None:
    """Both ways, byte for byte, until either side leaves; the other is closed with its code."""

    async def to_node() -> None:
        while True:
            message = await client.receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close(code=message.get("code") or 1000)
                return
            text = message.get("text")
            await upstream.send(text if text is not None else message.get("bytes") or b"")

    async def to_client() -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in upstream:
                if isinstance(message, str):
                    await client.send_text(message)
                else:
                    await client.send_bytes(message)
        with contextlib.suppress(Exception):
            await client.close(code=upstream.close_code or 1000)

    await both_ways(to_node(), to_client())
