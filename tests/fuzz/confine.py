"""What a fuzzed request may make the server reach: the local test site, and nothing else.

The server under test resolves and connects to whatever URL an operation is handed (``POST /v1/fetch``,
a render's ``url``, a session's external proxy ``server``, an automation step's ``url``, a run's
``webhook_url``...), and its egress policy lets public addresses through. So before a generated case
is sent, :meth:`Confiner.confine` rewrites every URL it carries to a loopback URL of the test site
(``http://127.0.0.1:<site port>/…``): values under a URL-bearing key, and any other string that
parses as an absolute URL with a host that is not loopback. :meth:`Confiner.check` then refuses to
send a case still holding a non-loopback URL (a bug here, never a skip).

Where a URL is rewritten to depends on what the operation does with it, so that valid input stays
valid: ``POST /v1/fetch`` gets a JSON page (good for ``raw``, ``json`` and ``markdown``), a render a
static page, a webhook an endpoint that accepts POST, a proxy ``server`` the site's own address.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from schemathesis import Case

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]*")
_WEBHOOK_KEYS = frozenset({"webhook_url", "webhookUrl", "callback_url", "callbackUrl"})
_URL_KEYS = frozenset({"url", "href", "src", "uri", "startUrl", "start_url"})
_PROXY_KEYS = frozenset({"server", "proxy", "proxyUrl", "proxy_url"})


def _host(text: str) -> str | None:
    try:
        return urlsplit(text).hostname
    except ValueError:
        return ""  # unparseable (e.g. a bad IPv6 literal): treat as foreign


def is_foreign_url(text: str) -> bool:
    """An absolute URL naming a host that is not loopback (or one that cannot be parsed)."""
    if "://" not in text and not text.startswith("//"):
        return False
    for match in _URL_IN_TEXT.finditer(text if "://" in text else "x:" + text):
        host = _host(match.group(0))
        if host is None or host not in LOOPBACK_HOSTS:
            return True
    return False


class Confiner:
    def __init__(self, site_url: str) -> None:
        self.site = site_url.rstrip("/")
        self.page = f"{self.site}/structured"
        self.json = f"{self.site}/api/json?n=2"
        self.webhook = f"{self.site}/api/echo"

    def _url_for(self, operation: str, key: str) -> str:
        if key in _WEBHOOK_KEYS:
            return self.webhook
        if key in _PROXY_KEYS:
            return self.site
        if operation.endswith("/v1/fetch"):
            return self.json
        return self.page

    def _walk(self, value: Any, operation: str, key: str | None) -> Any:
        if isinstance(value, dict):
            return {k: self._walk(v, operation, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, operation, key) for v in value]
        if isinstance(value, str) and (
            key in _URL_KEYS or key in _WEBHOOK_KEYS or key in _PROXY_KEYS or is_foreign_url(value)
        ):
            return self._url_for(operation, key or "")
        return value

    def confine(self, case: Case) -> None:
        """Rewrite, in place, every URL the case would make the server reach."""
        operation = f"{case.method.upper()} {case.path}"
        if isinstance(case.body, dict | list):
            case.body = self._walk(case.body, operation, None)
        elif isinstance(case.body, str) and is_foreign_url(case.body):
            case.body = self.page
        for name in ("query", "headers", "cookies"):
            container = getattr(case, name)
            if container:
                setattr(case, name, {k: self._scalar(v) for k, v in container.items()})

    def _scalar(self, value: Any) -> Any:
        if isinstance(value, str) and is_foreign_url(value):
            return self.page
        if isinstance(value, list):
            return [self._scalar(v) for v in value]
        return value

    def check(self, case: Case) -> None:
        """Fail (never skip) if the case still carries a URL outside loopback."""
        leftovers: list[str] = []

        def visit(value: Any) -> None:
            if isinstance(value, dict):
                for item in value.values():
                    visit(item)
            elif isinstance(value, list):
                for item in value:
                    visit(item)
            elif isinstance(value, str) and is_foreign_url(value):
                leftovers.append(value)

        for part in (case.body, case.query, case.headers, case.cookies):  # (path ids are never fetched)
            visit(part)
        assert not leftovers, f"refusing to send non-loopback URLs: {leftovers!r}"
