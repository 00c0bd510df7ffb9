"""The credential of a live session's endpoints (CDP, WebDriver, live view, DevTools), checked
before anything reaches the browser.

A credential is either:

* the session's signing key (the one ``connectUrl`` carries) — it opens the session as long as it
  runs;
* or, in the live URLs minted with ``expiresIn`` (node/session/routes/live_urls.py), a token
  ``EXPIRES.SIGNATURE`` derived from it: ``EXPIRES`` in Unix seconds, ``SIGNATURE`` the hex
  HMAC-SHA256 of ``live:{session id}:{EXPIRES}`` under the signing key. It opens the same
  endpoints, and nothing once ``EXPIRES`` has passed.

Both compare in constant time (core/keys.py ``same_secret``). A request carries it in the query
(``?signingKey=KEY``, ``?signing_key=KEY`` or ``?token=TOKEN``), else as ``Authorization: Bearer
KEY`` or ``x-bb-signing-key: KEY`` (:func:`credential_of`); the DevTools frontend in its path,
because its files load each other by relative URLs that drop the query. A session that is not
running on this node is NotFound (404), a missing or wrong credential Unauthenticated (401); a
WebSocket is refused during the handshake instead (:func:`live_or_refuse`: HTTP 403 to the client).

The carriers are declared as security schemes (:data:`LIVE_CREDENTIAL`, for a route's
``dependencies``) so the OpenAPI document shows what opens the live HTTP endpoints.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Depends, Security
from fastapi.params import Depends as DependsParam
from fastapi.security import APIKeyHeader, APIKeyQuery
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from browserfleet.core.errors import NotFound, Unauthenticated
from browserfleet.core.keys import same_secret
from browserfleet.core.sessions.live_tokens import token_signature
from browserfleet.node.session.live import LiveSession, LiveSessions
from browserfleet.node.session.routes.deps import services_of

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404

# documentation only (auto_error=False: they refuse nothing); credential_of reads the credential,
# which may also come as `Authorization: Bearer <signing key>`
SIGNING_KEY = APIKeyQuery(
    name="signingKey",
    scheme_name="SigningKey",
    auto_error=False,
    description="The session's signing key (`signingKey` of the session, in its `connectUrl`)",
)
SIGNING_KEY_HEADER = APIKeyHeader(
    name="x-bb-signing-key",
    scheme_name="SigningKeyHeader",
    auto_error=False,
    description="The session's signing key, as a header",
)
LIVE_TOKEN = APIKeyQuery(
    name="token",
    scheme_name="LiveToken",
    auto_error=False,
    description="A token derived from the signing key that expires: the live URLs of "
    "`GET /v1/sessions/{id}/debug?expiresIn=…` carry it",
)
LIVE_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid signing key"},
    404: {"description": "The session is not running"},
    503: {"description": "Distributed mode: the session's node did not answer"},
}


async def _documented_credential(
    _key: Annotated[str | None, Security(SIGNING_KEY)],
    _header: Annotated[str | None, Security(SIGNING_KEY_HEADER)],
    _token: Annotated[str | None, Security(LIVE_TOKEN)],
) -> None:
    """Declares the carriers of a live endpoint's credential (see the module)."""


LIVE_CREDENTIAL: list[DependsParam] = [Depends(_documented_credential)]


def credential_ok(live: LiveSession, credential: str | None, *, now: float | None = None) -> bool:
    """The signing key itself, or an unexpired token derived from it."""
    if credential is None:
        return False
    if live.check_key(credential):
        return True
    expires, _, signature = credential.partition(".")
    if not expires.isdigit() or int(expires) < (now if now is not None else time.time()):
        return False
    expected = token_signature(live.signing_key, live.session_id, int(expires))
    return same_secret(signature, expected)


def credential_of(connection: HTTPConnection) -> str | None:
    """The credential a request or WebSocket carries in its query or headers (None without one)."""
    params, headers = connection.query_params, connection.headers
    key: str | None = params.get("signingKey") or params.get("signing_key") or params.get("token")
    if key:
        return key
    scheme, _, token = str(headers.get("authorization", "")).partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-bb-signing-key") or None


def authorized_live(registry: LiveSessions, session_id: str, credential: str | None) -> LiveSession:
    """The live session on this node if ``credential`` opens it: NotFound / Unauthenticated."""
    live = registry.get(session_id)
    if live is None:
        raise NotFound(f"Session {session_id} is not running")
    if not credential_ok(live, credential):
        raise Unauthenticated("Missing or invalid signing key")
    return live


async def live_or_refuse(ws: WebSocket, session_id: str, credential: str | None) -> LiveSession | None:
    """:func:`authorized_live` for a WebSocket not yet accepted: None, and the handshake refused
    (closed before accept → HTTP 403, nothing reaches the browser), when the credential does not
    open the session."""
    try:
        return authorized_live(services_of(ws).live_sessions, session_id, credential)
    except NotFound:
        await ws.close(code=CLOSE_NOT_FOUND)
    except Unauthenticated:
        await ws.close(code=CLOSE_UNAUTHORIZED)
    return None
