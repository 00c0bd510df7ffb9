"""API keys as strings: the form of a new key, the hash it is stored and looked up by, and the
request headers that carry it. No I/O and no store here (core/accounts.py keeps the projects and
keys), so the command line can make a key without loading the engine."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

KEY_PREFIX = "bf_"
SHOWN_PREFIX = 10  # characters of a key kept in clear (to tell keys apart in lists)


def api_key_of(headers: Mapping[str, str]) -> str | None:
    """The API key a request carries: ``Authorization: Bearer KEY`` or ``X-BB-API-Key: KEY``
    (``headers`` looked up by lower-case name, as HTTP frameworks' header mappings do)."""
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return headers.get("x-bb-api-key") or None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Whether a secret a client sent is ``expected``, compared in constant time and as UTF-8
    bytes: any string a client can send (non-ASCII, lone surrogates) is a plain no, never the
    TypeError ``hmac.compare_digest`` raises for a non-ASCII ``str``."""
    encoded = given.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(encoded, expected.encode("utf-8", "surrogatepass"))


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class KeyMaterial:
    """A new key: shown once, stored only as ``digest`` (and ``prefix``) under ``key_id``."""

    key: str
    key_id: str
    digest: str
    prefix: str


def new_key() -> KeyMaterial:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return KeyMaterial(key=key, key_id=new_id("key"), digest=hash_key(key), prefix=key[:SHOWN_PREFIX])
