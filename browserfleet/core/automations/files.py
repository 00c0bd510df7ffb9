"""Signed URLs for files browserfleet serves without an API key.

A run's files are served at ``/v1/automations/files/{run_uid}/{name}?sig=…``: the signature
(HMAC-SHA256 of the owner and file name, with a key derived from the server's master key, one key
per use) is the credential, so the URLs work in a browser, an ``<img>`` tag or a webhook receiver
without an API key. They stay valid until the run's files are purged (retention).

A signer built with another ``path`` serves another family's files the same way; with
``expires`` (a Unix time, signed too) a URL also stops working at that time — session recording
downloads use both (``/v1/sessions/{owner}/recording/downloads/{name}?expires=…&sig=…``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

FILES_PATH = "/v1/automations/files"


class FileSigner:
    def __init__(self, key: bytes, path: str = FILES_PATH + "/{owner}/{name}") -> None:
        self._key = key
        self._path = path  # where the files are served, with {owner} and {name}

    def signature(self, run_uid: str, name: str, expires: int | None = None) -> str:
        message = f"{run_uid}/{name}" if expires is None else f"{run_uid}/{name}/{expires}"
        mac = hmac.new(self._key, message.encode(), hashlib.sha256)
        return mac.hexdigest()[:40]

    def verify(self, run_uid: str, name: str, signature: str, expires: int | None = None) -> bool:
        if expires is not None and expires < time.time():
            return False
        return hmac.compare_digest(self.signature(run_uid, name, expires), signature)

    def url(self, base_url: str, run_uid: str, name: str, expires: int | None = None) -> str:
        path = self._path.format(owner=quote(run_uid), name=quote(name))
        query = f"sig={self.signature(run_uid, name, expires)}"
        if expires is not None:
            query = f"expires={expires}&{query}"
        return f"{base_url.rstrip('/')}{path}?{query}"
