"""Signing in to the console: an API key exchanged for a session cookie, and CSRF tokens.

The cookie holds no key: it is ``{"d": SHA-256 of the key}`` (``{"a": SHA-256 of the admin key}``
for the admin), signed and timestamped by ``itsdangerous`` under a key derived from the server's
master key (core/vault.py), and refused once older than the session's lifetime. Every request looks
the key up again by its hash (core/accounts.py, as the API does), so a revoked key's console
session stops working with it; a changed admin key ends the admin's sessions.

CSRF: every browser gets a random nonce cookie; a state-changing form carries
``HMAC(nonce)`` (:meth:`ConsoleAuth.csrf_token`) and is refused without it. Both cookies are
HttpOnly and SameSite=Strict, Secure over HTTPS; signing in rotates the nonce.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

from browserfleet.core.accounts import Accounts, hash_key, is_admin_key
from browserfleet.core.errors import BrowserfleetError, Forbidden
from browserfleet.core.keys import same_secret
from browserfleet.store.records import ProjectRecord

SESSION_COOKIE = "bf_console"
NONCE_COOKIE = "bf_console_nonce"
CSRF_FIELD = "csrf"


@dataclass(frozen=True)
class Viewer:
    """Who is signed in: a project's key, or the admin key (``project`` None)."""

    project: ProjectRecord | None
    admin: bool = False


class CookieSigner:
    """Signed, timestamped cookie values (PyPI ``itsdangerous``) that nobody without ``key`` can
    forge, and HMAC tokens bound to a purpose."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._serializer = URLSafeTimedSerializer(key, salt="console-session")

    def dumps(self, data: dict[str, Any]) -> str:
        return self._serializer.dumps(data)

    def loads(self, value: str, max_age_s: int) -> dict[str, Any] | None:
        """The payload of ``value``, or None (forged, malformed or older than ``max_age_s``)."""
        try:
            data = self._serializer.loads(value, max_age=max_age_s)
        except BadData:
            return None
        return data if isinstance(data, dict) else None

    def token(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


class ConsoleAuth:
    def __init__(
        self, accounts: Accounts, signer: CookieSigner, *, admin_key: str | None, ttl_s: int
    ) -> None:
        self.accounts = accounts
        self.signer = signer
        self.admin_key = admin_key
        self.ttl_s = ttl_s

    # --- sign-in ----------------------------------------------------------------------------------
    async def sign_in(self, key: str) -> str:
        """The session cookie's value for ``key`` (Unauthenticated if it opens nothing)."""
        key = key.strip()
        if is_admin_key(self.admin_key, key):
            return self.signer.dumps({"a": hash_key(key)})
        await self.accounts.authenticate(key)  # MissingApiKey / Unauthenticated
        return self.signer.dumps({"d": hash_key(key)})

    async def viewer(self, cookie: str | None) -> Viewer | None:
        """Who the session cookie signs in, or None (no cookie, forged, expired, revoked key)."""
        data = self.signer.loads(cookie, self.ttl_s) if cookie else None
        if data is None:
            return None
        if "a" in data:
            current = hash_key(self.admin_key) if self.admin_key else ""
            return Viewer(None, admin=True) if same_secret(str(data["a"]), current) else None
        try:
            return Viewer(await self.accounts.authenticate_digest(str(data.get("d", ""))))
        except BrowserfleetError:
            return None

    # --- CSRF -----------------------------------------------------------------------------------
    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, nonce: str) -> str:
        return self.signer.token("csrf", nonce)

    def check_csrf(self, nonce: str | None, given: str | None) -> None:
        if not nonce or not given or not same_secret(given, self.csrf_token(nonce)):
            raise CsrfRefused("The form is missing its CSRF token, or it is not this browser's")


class CsrfRefused(Forbidden):
    """A state-changing request without this browser's CSRF token."""
