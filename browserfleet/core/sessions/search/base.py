"""The search backend extension point, the hit it returns, and the one place HTTP errors are mapped.

A backend turns ``(query, num_results)`` into at most ``num_results`` :class:`SearchHit` values,
already mapped to the contract's result fields (``POST /v1/search``: ``id, url, title, author?,
publishedDate?, image?, favicon?``). Every failure of the service behind it — unreachable, timed
out, non-2xx, an answer that is not the expected JSON — is a :class:`SearchFailed` (502); the API
never sees an ``httpx`` exception. Only this package imports ``httpx`` for search, and only
:func:`request_json` catches its errors.

When you add a backend: subclass :class:`SearchBackend` in a module of its own, give it a ``name``,
add its settings (and their validator) to ``browserfleet/settings/search.py`` and docs/configuration.md,
and a branch to :func:`browserfleet.core.sessions.search.build_backend`.
"""

from __future__ import annotations

import email.utils
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import structlog

from browserfleet.core.errors import BrowserfleetError
from browserfleet.core.http import outbound_client

log = structlog.get_logger(__name__)

MAX_RESULTS = 25  # the contract's upper bound on numResults


class SearchFailed(BrowserfleetError):
    """The search service could not be used for this query (502, not retried by the SDK)."""

    status = 502
    kind = "Bad Gateway"


@dataclass(frozen=True)
class SearchHit:
    """One result, as the contract names it: ``publishedDate`` is RFC 3339 text (UTC) or None."""

    id: str
    url: str
    title: str
    author: str | None = None
    published_date: str | None = None
    image: str | None = None
    favicon: str | None = None


@dataclass(frozen=True)
class SearchPage:
    """What a backend answered: the hits, and the service's own request id when it gives one."""

    hits: list[SearchHit]
    request_id: str | None = None


class SearchBackend(ABC):
    """A web search service.

    Contract of :meth:`search`: ``query`` is 1-200 characters and ``num_results`` 1-25 (the API
    has validated both); the result holds at most ``num_results`` hits in the service's ranking
    order, each with a non-empty ``id``, an absolute http(s) ``url`` and a ``title``; missing or
    unparseable optional fields are ``None`` (never an error). Raise :class:`SearchFailed` — and
    nothing else — when the service cannot answer. A backend keeps no per-request state and may be
    called concurrently; it must never log its credentials.
    """

    name: ClassVar[str]

    @abstractmethod
    async def search(self, query: str, num_results: int) -> SearchPage: ...


async def request_json(
    label: str, method: str, url: str, *, timeout_s: float, **kwargs: Any
) -> dict[str, Any]:
    """One HTTP call to a search service, its JSON object body; every failure is SearchFailed.

    ``label`` names the service in messages (never the URL's query or headers: they may hold
    keys). A fresh client per call: searches are rare next to renders, and a client owned by no
    event loop cannot leak across the servers of one process (tests run several)."""
    try:
        async with outbound_client(timeout=timeout_s) as http:
            response = await http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise _failed(label, f"did not answer within {timeout_s:g} s", exc) from exc
    except httpx.HTTPError as exc:
        raise _failed(label, f"could not be reached ({type(exc).__name__})", exc) from exc
    if not response.is_success:
        raise _failed(label, f"answered HTTP {response.status_code}{_hint(label, response)}")
    try:
        body = response.json()
    except ValueError as exc:
        raise _failed(label, "answered something that is not JSON", exc) from exc
    if not isinstance(body, dict):
        raise _failed(label, "answered JSON that is not an object")
    return body


def _hint(label: str, response: httpx.Response) -> str:
    if label == "SearXNG" and response.status_code == 403:
        return " (is `json` listed in search.formats of its settings.yml?)"
    if response.status_code in (401, 403):
        return " (check the API key setting)"
    return ""


def _failed(label: str, what: str, exc: Exception | None = None) -> SearchFailed:
    log.warning("search.failed", backend=label, problem=what, error=type(exc).__name__ if exc else None)
    return SearchFailed(f"Web search failed: {label} {what}")


# ---------------------------------------------------------------------------- mapping helpers
def text(value: object) -> str | None:
    """A non-blank string, stripped; anything else None."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def http_url(value: object) -> str | None:
    """An absolute http(s) URL (protocol-relative ``//host/x`` becomes https); anything else None."""
    url = text(value)
    if url is None:
        return None
    if url.startswith("//"):
        url = "https:" + url
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest.strip("/"):
        return None
    return url


def rfc3339(value: object) -> str | None:
    """An ISO 8601 / RFC 3339 / RFC 2822 date or date-time as RFC 3339 in UTC, else None.

    Dates without a time are midnight UTC, naive date-times are taken as UTC (SearXNG serialises
    naive datetimes; Exa sends dates like ``2000-01-01``)."""
    raw = text(value)
    if raw is None:
        return None
    parsed = _parse_date(raw)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        stamp = parsed.astimezone(UTC).isoformat(timespec="milliseconds")
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00
        return None
    return stamp.replace("+00:00", "Z")


def _parse_date(raw: str) -> datetime | None:
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
