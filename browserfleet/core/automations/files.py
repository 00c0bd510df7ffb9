"""Signed URLs for the files a run saved (screenshots, PDFs, images, downloads, the video).

A run's files are served by browserfleet at ``/v1/automations/files/{run_uid}/{name}?sig=…``:
the signature (HMAC-SHA256 of the run and file name, with a key derived from the server's master
key) is the credential, so the URLs work in a browser, an ``<img>`` tag or a webhook receiver
without an API key. They stay valid until the run's files are purged (retention).
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote

FILES_PATH = "/v1/automations/files"


class FileSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def signature(self, run_uid: str, name: str) -> str:
        mac = hmac.new(self._key, f"{run_uid}/{name}".encode(), hashlib.sha256)
        return mac.hexdigest()[:40]

    def verify(self, run_uid: str, name: str, signature: str) -> bool:
        return hmac.compare_digest(self.signature(run_uid, name), signature)

    def url(self, base_url: str, run_uid: str, name: str) -> str:
        path = f"{FILES_PATH}/{quote(run_uid)}/{quote(name)}"
        return f"{base_url.rstrip('/')}{path}?sig={self.signature(run_uid, name)}"
