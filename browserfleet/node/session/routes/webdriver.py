"""The WebDriver endpoint of a live session: an authenticated reverse proxy to its chromedriver.

``seleniumRemoteUrl`` is ``http://HOST/v1/sessions/{id}/webdriver``; Selenium appends the W3C
command paths (``/session``, ``/session/{sid}/url``, …). Every request must carry the session's
signing key, checked **before** anything reaches the node: the header ``x-bb-signing-key: KEY``
(the Browserbase convention; Selenium: ``ClientConfig(url, extra_headers={...})``), or
``Authorization: Bearer KEY`` (``ClientConfig(url, auth_type=AuthType.BEARER, token=KEY)``), or
HTTP Basic with the key as password, or as fallbacks the query ``?signingKey=KEY`` (for plain HTTP
clients) or the path ``…/webdriver/key/KEY`` used as the remote URL (for clients that cannot set
headers). A wrong or missing key → 401, a session that is not running → 404, both in the
sessions envelope plus a W3C ``value`` error; chromedriver is not started for them.

The session's chromedriver (node/session/webdriver.py) is started on the first authenticated
request. Every command passes the protocol firewall first (core/firewall/webdriver.py): its path is
normalised and must be an allowed command (else 404 ``unknown command``), its body is checked
(else 400 ``invalid argument``), and ``New Session`` capabilities are built by the server to attach
to the session's running browser (``goog:chromeOptions`` is ``{debuggerAddress: 127.0.0.1:PORT}``
plus at most ``w3c``, ``perfLoggingPrefs`` and ``windowTypes``; a client's ``binary``, ``args``,
``extensions``, ``proxy``… never reach chromedriver). ``driver.quit()`` only detaches:
chromedriver leaves an attached browser running. A WebDriver session counts as a client of the
browserfleet session from ``New Session`` to ``Delete Session`` (for the ``keepAlive`` grace period).

Responses keep chromedriver's status codes and JSON errors and are streamed back.
"""

from __future__ import annotations

import base64
import binascii
import json

import httpx
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from browserfleet.core.errors import BrowserfleetError, InvalidRequest, NotFound, Unavailable
from browserfleet.core.firewall.webdriver import (
    Command,
    WebDriverRefused,
    check_body,
    new_session_body,
    parse_command,
)
from browserfleet.core.http import outbound_client
from browserfleet.node.session.live import LiveSession
from browserfleet.node.session.routes.deps import services_of
from browserfleet.node.session.routes.live_auth import authorized_live, credential_of
from browserfleet.node.session.webdriver import WebDriverUnavailable

log = structlog.get_logger(__name__)
router = APIRouter(tags=["sessions"])  # mounted under /v1 by node/session/routes/__init__.py
METHODS = ["GET", "POST", "DELETE"]
TIMEOUT = httpx.Timeout(connect=5.0, read=600.0, write=60.0, pool=5.0)
_W3C_ERRORS = {401: "unknown error", 404: "invalid session id", 400: "invalid argument"}


class UnknownCommand(NotFound):
    """A command the protocol firewall does not allow (W3C ``unknown command``, 404)."""


def webdriver_error(error: BrowserfleetError) -> JSONResponse:
    """The sessions envelope, plus the W3C ``value`` error a WebDriver client parses."""
    code = _W3C_ERRORS.get(error.status, "unknown error")
    if isinstance(error, UnknownCommand):
        code = "unknown command"
    body = {
        "statusCode": error.status,
        "error": error.kind,
        "message": error.message,
        "value": {"error": code, "message": error.message, "stacktrace": ""},
    }
    return JSONResponse(body, status_code=error.status, headers={"x-should-retry": "false"})


def _signing_key(request: Request, path: str) -> tuple[str | None, str]:
    """The key (path fallback, then query/headers) and the WebDriver command path."""
    path = path.strip("/")
    if path.startswith("key/"):
        _, path_key, rest = (path + "/").split("/", 2)
        return path_key, rest.strip("/")
    key = credential_of(request)
    if key is None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip()).decode().partition(":")[2] or None
            except (binascii.Error, UnicodeDecodeError):
                key = None
    return key, path


@router.api_route("/sessions/{session_id}/webdriver", methods=METHODS, include_in_schema=False)
@router.api_route("/sessions/{session_id}/webdriver/{path:path}", methods=METHODS, include_in_schema=False)
async def webdriver(session_id: str, request: Request, path: str = "") -> Response:
    key, raw_command = _signing_key(request, path)
    try:
        live = authorized_live(services_of(request).live_sessions, session_id, key)
        if live.webdriver is None:
            raise Unavailable("WebDriver is not enabled on this node")
        command, body = await _checked(request, live, raw_command)
        try:
            base = await live.webdriver.url()
        except WebDriverUnavailable as exc:
            raise Unavailable(f"WebDriver is unavailable: {exc}") from exc
    except BrowserfleetError as error:
        return webdriver_error(error)
    return await _forward(request, live, f"{base}/{command.path}", body, command)


async def _checked(request: Request, live: LiveSession, raw_command: str) -> tuple[Command, bytes]:
    """The command and body to send chromedriver, after the protocol firewall
    (core/firewall/webdriver.py); refused → 400 (404 for a command that does not exist)."""
    assert live.webdriver is not None
    try:
        command = parse_command(request.method, raw_command)
    except WebDriverRefused as exc:
        raise UnknownCommand(str(exc)) from exc
    body = await request.body()
    if command.is_new_session:
        return command, new_session_body(body, live.webdriver.debugger_address)
    if not live.firewall.enabled:
        return command, body
    try:
        return command, check_body(command, body, live.firewall)
    except WebDriverRefused as exc:
        raise InvalidRequest(str(exc)) from exc


async def _forward(request: Request, live: LiveSession, url: str, body: bytes, command: Command) -> Response:
    headers = {"content-type": request.headers.get("content-type", "application/json; charset=utf-8")}
    client = outbound_client(timeout=TIMEOUT)
    try:
        upstream = await client.send(
            client.build_request(request.method, url, content=body or None, headers=headers), stream=True
        )
    except httpx.HTTPError as exc:
        await client.aclose()
        return webdriver_error(Unavailable(f"WebDriver is unavailable: {exc.__class__.__name__}"))
    reply_headers = {"content-type": upstream.headers.get("content-type", "application/json; charset=utf-8")}
    if upstream.status_code == 200 and (command.is_new_session or command.is_delete_session):
        content = await upstream.aread()
        await upstream.aclose()
        await client.aclose()
        _track(live, request, content, command)
        return Response(content, status_code=upstream.status_code, headers=reply_headers)

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    return StreamingResponse(
        upstream.aiter_bytes(),
        status_code=upstream.status_code,
        headers=reply_headers,
        background=BackgroundTask(close),
    )


def _track(live: LiveSession, request: Request, content: bytes, command: Command) -> None:
    """A WebDriver session is a client of the browserfleet session until it is deleted."""
    assert live.webdriver is not None
    registry = services_of(request).live_sessions
    webdriver_session = command.webdriver_session or ""
    if command.is_new_session:
        try:
            webdriver_session = str(json.loads(content)["value"]["sessionId"])
        except (ValueError, KeyError, TypeError):
            return
        live.webdriver.webdriver_sessions.add(webdriver_session)
        registry.client_connected(live.session_id)
        log.info(
            "session.webdriver_attached", session_id=live.session_id, webdriver_session=webdriver_session
        )
    elif webdriver_session in live.webdriver.webdriver_sessions:
        live.webdriver.webdriver_sessions.discard(webdriver_session)
        registry.client_disconnected(live.session_id)
        log.info(
            "session.webdriver_detached", session_id=live.session_id, webdriver_session=webdriver_session
        )
