"""Signed URLs for files browserfleet serves without an API key.

A run's files are served at ``/v1/automations/files/{run_uid}/{name}?sig=…``: the signature
(HMAC-SHA256 of the owner and file name, with a key derived from the server's master key, one key
per use) is the credential, so the URLs work in a browser, an ``<img>`` tag or a webhook receiver
without an API key. They expire (``expires``, a Unix time, signed too): a signer built with
``ttl_s`` (run files: ``automation_file_url_ttl_s``) puts in every URL an expiry between ``ttl_s``
and ``2 * ttl_s`` away, the same for every URL it hands out within one ``ttl_s`` window (so a run
reads the same in its webhook and in a GET made just after), and refuses a URL without one. The
route also checks that the run still exists, so the URLs die with their run and task.

A signer built with another ``path`` serves another family's files the same way; with an explicit
``expires`` a URL stops working at that time — session recording downloads use both
(``/v1/sessions/{owner}/recording/downloads/{name}?expires=…&sig=…``).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote

from browserfleet.core.keys import same_secret

FILES_PATH = "/v1/automations/files"


def window_expiry(ttl_s: int, now: float | None = None) -> int:
    """An expiry ``ttl_s`` to ``2 * ttl_s`` seconds away, the same within one ``ttl_s`` window."""
    now = time.time() if now is None else now
    return (int(now // ttl_s) + 2) * ttl_s


class FileSigner:
    def __init__(
        self, key: bytes, path: str = FILES_PATH + "/{owner}/{name}", *, ttl_s: int | None = None
    ) -> None:
        self._key = key
        self._path = path  # where the files are served, with {owner} and {name}
        self.ttl_s = ttl_s  # set: every URL expires (window_expiry), one without an expiry is refused

    def same_urls_until(self, now: float | None = None) -> float | None:
        """Until when :meth:`url` hands out the very same URLs (the end of the current window;
        None: for good)."""
        if self.ttl_s is None:
            return None
        now = time.time() if now is None else now
        return float((int(now // self.ttl_s) + 1) * self.ttl_s)

    def signature(self, run_uid: str, name: str, expires: int | None = None) -> str:
        message = f"{run_uid}/{name}" if expires is None else f"{run_uid}/{name}/{expires}"
        mac = hmac.new(self._key, message.encode(), hashlib.sha256)
        return mac.hexdigest()[:40]

    def verify(self, run_uid: str, name: str, signature: str, expires: int | None = None) -> bool:
        if expires is None and self.ttl_s is not None:
            return False
        if expires is not None and expires < time.time():
            return False
        return same_secret(signature, self.signature(run_uid, name, expires))

    def url(self, base_url: str, run_uid: str, name: str, expires: int | None = None) -> str:
        if expires is None and self.ttl_s is not None:
            expires = window_expiry(self.ttl_s)
        path = self._path.format(owner=quote(run_uid), name=quote(name))
        query = f"sig={self.signature(run_uid, name, expires)}"
        if expires is not None:
            query = f"expires={expires}&{query}"
        return f"{base_url.rstrip('/')}{path}?{query}"
