"""A session's secrets in its job spec: sealed with the vault (core/vault.py), never in plain text.

Two secrets travel from the API to the node in ``jobs.spec``:

* the **signing key** (the credential of ``connectUrl``, WebDriver, the live view): sealed with
  purpose ``session-signing-key``; the API opens it to hand it to the session's owner (create,
  GET while live), the node opens it to check clients against it (node/session/executor.py);
* the **credentials of the user's own proxies** (``proxies: [{type: "external", username,
  password}]``): each rule's ``username``/``password`` are replaced by ``credentials``, their JSON
  sealed with purpose ``session-proxy-credentials``; the node opens them to build the session's
  egress routes (node/proxies/routing.py).

Both are bound to the session id (the vault derives one key per purpose and object, and binds the
id as associated data), so a sealed value copied onto another session does not open. The master
key is the server's ``secret_key`` (the same on every process in distributed mode), so a node
opens what a control plane sealed; whoever reads only the database reads neither.

Sealed text: ``sealed:v1:`` + base64url(vault blob).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from browserfleet.core.vault import Vault, VaultError

SIGNING_KEY_PURPOSE = "session-signing-key"
PROXY_PURPOSE = "session-proxy-credentials"
PREFIX = "sealed:v1:"
CREDENTIAL_FIELDS = ("username", "password")


class SessionSecrets:
    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    # --- the signing key ----------------------------------------------------------------------
    def seal_key(self, session_id: str, signing_key: str) -> str:
        return self._seal(SIGNING_KEY_PURPOSE, session_id, signing_key.encode())

    def open_key(self, session_id: str, sealed: str) -> str | None:
        """The signing key, or None when ``sealed`` does not open (not sealed, another server's
        key, another session's value)."""
        opened = self._open(SIGNING_KEY_PURPOSE, session_id, sealed)
        return opened.decode() if opened is not None else None

    # --- proxy credentials --------------------------------------------------------------------
    def seal_proxies(self, session_id: str, proxies: Any) -> Any:
        """``proxies`` with every rule's ``username``/``password`` sealed into ``credentials``."""
        if not isinstance(proxies, list):
            return proxies
        sealed = []
        for rule in proxies:
            if isinstance(rule, dict) and any(rule.get(f) is not None for f in CREDENTIAL_FIELDS):
                secret = {f: rule[f] for f in CREDENTIAL_FIELDS if rule.get(f) is not None}
                kept = {k: v for k, v in rule.items() if k not in CREDENTIAL_FIELDS}
                kept["credentials"] = self._seal(PROXY_PURPOSE, session_id, json.dumps(secret).encode())
                sealed.append(kept)
            else:
                sealed.append(rule)
        return sealed

    def open_proxies(self, session_id: str, proxies: Any) -> Any:
        """``proxies`` as the client gave them (ValueError if a rule's credentials do not open)."""
        if not isinstance(proxies, list):
            return proxies
        opened = []
        for rule in proxies:
            if isinstance(rule, dict) and "credentials" in rule:
                plain = self._open(PROXY_PURPOSE, session_id, str(rule["credentials"]))
                if plain is None:
                    raise ValueError("the session's proxy credentials do not open with this server's key")
                opened.append({k: v for k, v in rule.items() if k != "credentials"} | json.loads(plain))
            else:
                opened.append(rule)
        return opened

    # --- helpers ------------------------------------------------------------------------------
    def _seal(self, purpose: str, session_id: str, data: bytes) -> str:
        return PREFIX + base64.urlsafe_b64encode(self.vault.seal(purpose, session_id, data)).decode()

    def _open(self, purpose: str, session_id: str, sealed: str) -> bytes | None:
        if not sealed.startswith(PREFIX):
            return None
        try:
            blob = base64.urlsafe_b64decode(sealed.removeprefix(PREFIX))
            return self.vault.open(purpose, session_id, blob)
        except (VaultError, binascii.Error, ValueError):
            return None
