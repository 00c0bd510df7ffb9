"""Tokens that open a running session's live endpoints for a while (``?token=EXPIRES.SIGNATURE``).

``SIGNATURE`` is the hex HMAC-SHA256 of ``live:{session id}:{EXPIRES}`` under the session's
signing key; ``EXPIRES`` is in Unix seconds. Minted by ``GET /v1/sessions/{id}/debug?expiresIn=…``
and by the web console's live view; checked by the node (node/session/routes/live_auth.py).
"""

from __future__ import annotations

import hashlib
import hmac
import time


def mint_token(signing_key: str, session_id: str, expires_in_s: int, *, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + expires_in_s
    return f"{expires}.{token_signature(signing_key, session_id, expires)}"


def token_signature(signing_key: str, session_id: str, expires: int) -> str:
    message = f"live:{session_id}:{expires}".encode()
    return hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()
