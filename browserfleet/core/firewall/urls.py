"""Which URLs a tenant may send a browser to: web schemes only.

A URL is read the way a browser reads it before deciding anything: leading and trailing C0
control characters and spaces stripped, tabs and newlines removed anywhere, the scheme
case-insensitive (WHATWG URL standard). So ``" FILE:///etc"``, ``"fi\\tle:///etc"`` and
``"view-source:file:///etc"`` are all refused: the scheme must be on the allow-list, never merely
"not on a deny-list".

* :func:`check_web_url` — http and https with a host: steps (``go``, ``download_file``, new
  tabs), agent tools, renders, ``/v1/fetch``, webhooks.
* :func:`check_navigable_url` — what a raw CDP client may navigate a page to: web URLs plus the
  inert documents clients open first (``about:blank``, ``about:srcdoc``) and ``data:``.
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = [
    "WEB_SCHEMES",
    "WEB_URL_SCHEMA",
    "BlockedUrl",
    "browser_reading",
    "check_navigable_url",
    "check_web_url",
    "scheme_of",
]

WEB_SCHEMES: Final = frozenset({"http", "https"})
INERT_URLS: Final = frozenset({"about:blank", "about:srcdoc"})
INERT_SCHEMES: Final = frozenset({"data"})
_EDGES: Final = "".join(chr(c) for c in range(0x21))  # C0 controls and space
_TAB_OR_NEWLINE: Final = re.compile(r"[\t\n\r]")
_SCHEME: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# What check_web_url accepts, as the JSON schema of a request's URL field (the OpenAPI document):
# optional leading controls or spaces, an http(s) scheme in any case, and an authority. It cannot
# say everything the check does (a host urlsplit finds): tests/unit/core/test_web_url_schema.py
_ANY_CASE: Final = "|".join("".join(f"[{c.upper()}{c}]" for c in s) for s in sorted(WEB_SCHEMES))
WEB_URL_SCHEMA: Final[dict[str, Any]] = {
    "format": "uri",
    "pattern": rf"^[\x00-\x20]*(?:{_ANY_CASE})://[^/?#\s]",
}


class BlockedUrl(ValueError):
    """A URL the firewall refuses; the message says why, for the caller."""


def browser_reading(url: str) -> str:
    """``url`` as a browser's URL parser sees it before parsing (WHATWG: strip, drop tab/newline)."""
    return _TAB_OR_NEWLINE.sub("", url.strip(_EDGES))


def scheme_of(url: str) -> str | None:
    """The lower-cased scheme of ``url`` as a browser reads it; None if it has none."""
    match = _SCHEME.match(browser_reading(url))
    return match.group(1).lower() if match else None


def check_web_url(url: object) -> str:
    """``url`` if it is an http(s) URL with a host (returned as the browser reads it), else
    :class:`BlockedUrl`."""
    if not isinstance(url, str):
        raise BlockedUrl("URL must be a string")
    reading = browser_reading(url)
    scheme = scheme_of(reading)
    if scheme not in WEB_SCHEMES:
        shown = f"{scheme}:" if scheme else "no scheme"
        raise BlockedUrl(f"Invalid URL: only http:// and https:// URLs are allowed, not {shown}")
    try:
        host = urlsplit(reading).hostname
    except ValueError as exc:
        raise BlockedUrl(f"Invalid URL: {exc}") from exc
    if not host:
        raise BlockedUrl("Invalid URL: missing host")
    return reading


def check_navigable_url(url: object) -> str:
    """``url`` if a raw CDP client may open it in a page (web, ``about:blank``, ``data:``), else
    :class:`BlockedUrl`."""
    if isinstance(url, str):
        reading = browser_reading(url)
        if reading.lower() in INERT_URLS or scheme_of(reading) in INERT_SCHEMES:
            return reading
    return check_web_url(url)
