"""The live URLs of a session (``GET /v1/sessions/{id}/debug``) and the credential they carry.

Every live URL carries a credential, checked before anything reaches the browser:

* the session's signing key (the one ``connectUrl`` carries) — the URLs then live as long as the
  session;
* or, when ``expiresIn`` was asked for, a token ``EXPIRES.SIGNATURE`` derived from it:
  ``EXPIRES`` in Unix seconds, ``SIGNATURE`` the hex HMAC-SHA256 of ``live:{session id}:{EXPIRES}``
  under the signing key. It opens the same pages, and nothing once ``EXPIRES`` has passed.

Both compare in constant time (``hmac.compare_digest``). The viewer and its WebSocket take the
credential in the query (``?signingKey=KEY`` or ``?token=TOKEN``, the same fallbacks as the CDP
proxy); the DevTools frontend in the path (``…/devtools/{credential}/…``), because its files load
each other by relative URLs that drop the query.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode, urlsplit

from starlette.requests import HTTPConnection

from browserfleet.core.errors import NotFound, Unauthenticated
from browserfleet.fleet import Fleet
from browserfleet.node.session import LiveSession

MAX_EXPIRES_IN_S = 21600


def mint_token(signing_key: str, session_id: str, expires_in_s: int, *, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + expires_in_s
    return f"{expires}.{_signature(signing_key, session_id, expires)}"


def credential_ok(live: LiveSession, credential: str | None, *, now: float | None = None) -> bool:
    """The signing key itself, or an unexpired token derived from it."""
    if credential is None:
        return False
    if live.check_key(credential):
        return True
    expires, _, signature = credential.partition(".")
    if not expires.isdigit() or int(expires) < (now if now is not None else time.time()):
        return False
    expected = _signature(live.signing_key, live.session_id, int(expires))
    return hmac.compare_digest(signature.encode(), expected.encode())


def _signature(signing_key: str, session_id: str, expires: int) -> str:
    message = f"live:{session_id}:{expires}".encode()
    return hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()


def authorized_live(fleet: Fleet, session_id: str, credential: str | None) -> LiveSession:
    """The live session on this node if ``credential`` opens it: NotFound / Unauthenticated."""
    live = fleet.live_sessions.get(session_id)
    if live is None:
        raise NotFound(f"Session {session_id} is not running")
    if not credential_ok(live, credential):
        raise Unauthenticated("Missing or invalid signing key")
    return live


@dataclass(frozen=True)
class LiveUrls:
    """Builds the live URLs of one session on the host the client used (or ``public_url``)."""

    scheme: str  # http | https
    host: str  # netloc plus any path prefix of public_url
    session_id: str
    credential: str
    param: str  # the credential's query name: signingKey | token

    @classmethod
    def of(
        cls, request: HTTPConnection, public_url: str | None, live: LiveSession, expires_in_s: int | None
    ) -> LiveUrls:
        """The URLs carry the signing key, or a token valid ``expires_in_s`` seconds."""
        base = urlsplit(public_url or str(request.base_url))
        scheme = "https" if base.scheme in {"https", "wss"} else "http"
        host = base.netloc + base.path.rstrip("/")
        if expires_in_s is None:
            return cls(scheme, host, live.session_id, live.signing_key, "signingKey")
        token = mint_token(live.signing_key, live.session_id, expires_in_s)
        return cls(scheme, host, live.session_id, token, "token")

    @property
    def _session(self) -> str:
        return f"{self.host}/v1/sessions/{self.session_id}"

    def _query(self, **extra: str) -> str:
        return urlencode({self.param: self.credential, **extra})

    def viewer(self, page_id: str | None = None) -> str:
        """The interactive viewer (api/live_view.py): the page ``page_id``, else the first page."""
        query = self._query(pageId=page_id) if page_id else self._query()
        return f"{self.scheme}://{self._session}/live?{query}"

    def devtools(self, kind: str, target_id: str) -> str:
        """Chromium's DevTools frontend on the target ``{page|browser}/ID`` (api/devtools.py)."""
        prefix = f"{self._session}/devtools/{quote(self.credential, safe='')}"
        ws = "wss" if self.scheme == "https" else "ws"
        return f"{self.scheme}://{prefix}/inspector.html?{ws}={prefix}/{kind}/{target_id}"

    def cdp(self) -> str:
        """``wsUrl``: the session's CDP WebSocket, as ``connectUrl`` (api/connect.py)."""
        ws = "wss" if self.scheme == "https" else "ws"
        return f"{ws}://{self._session}/connect?{self._query()}"
