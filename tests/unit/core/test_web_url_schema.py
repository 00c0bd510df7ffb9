"""WEB_URL_SCHEMA (core/firewall/urls.py) documents what check_web_url accepts: on ordinary URLs,
the pattern of the OpenAPI document and the server's check agree."""

from __future__ import annotations

import re

import pytest

from browserfleet.core.firewall.urls import WEB_URL_SCHEMA, BlockedUrl, check_web_url

PATTERN = re.compile(WEB_URL_SCHEMA["pattern"])
SAMPLES = [
    "http://example.com",
    "https://example.com/a?b=c#d",
    "HTTPS://Example.COM",
    "hTtP://127.0.0.1:8080/x",
    "https://[::1]/",
    "http://user:pass@host/",
    "  https://leading-space.example/",
    "\x00\x1fhttp://control-chars.example/",
    "ftp://example.com",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:text/html,hi",
    "example.com",
    "//example.com",
    "http://",
    "https:///path-only",
    "http:example.com",
    "http:/example.com",
    "httpx://example.com",
    "",
]


def accepted(url: str) -> bool:
    try:
        check_web_url(url)
    except BlockedUrl:
        return False
    return True


@pytest.mark.parametrize("url", SAMPLES)
def test_the_schema_pattern_agrees_with_the_check(url: str) -> None:
    assert bool(PATTERN.match(url)) == accepted(url), url
