"""Exa's search API: ``POST {exa_base_url}/search`` with the key in ``x-api-key``.

Request body ``{"query", "numResults"}``; the answer is ``{"requestId", "resolvedSearchType",
"results": [{"id", "url", "title", "author", "publishedDate", "image", "favicon", "score", ...}],
...}`` — already the contract's fields, so the mapping only cleans them: ``id`` falls back to the
URL, ``title`` (null for some pages) to the URL, ``publishedDate`` (sometimes a bare date such as
``2000-01-01``) becomes RFC 3339 UTC, unusable URLs become None and results without a URL are
dropped. Exa's ``requestId`` is passed through as the response's ``requestId``. The key is a
``SecretStr`` until the header is built and is never logged.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from browserfleet.core.sessions.search.base import (
    MAX_RESULTS,
    SearchBackend,
    SearchHit,
    SearchPage,
    http_url,
    request_json,
    rfc3339,
    text,
)

DEFAULT_BASE_URL = "https://api.exa.ai"


class ExaBackend(SearchBackend):
    name = "exa"

    def __init__(self, api_key: SecretStr, *, base_url: str = DEFAULT_BASE_URL, timeout_s: float) -> None:
        self._api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"ExaBackend(base_url={self.base_url!r}, api_key=<redacted>)"

    async def search(self, query: str, num_results: int) -> SearchPage:
        wanted = max(1, min(num_results, MAX_RESULTS))
        body = await request_json(
            "Exa",
            "POST",
            f"{self.base_url}/search",
            timeout_s=self.timeout_s,
            json={"query": query, "numResults": wanted},
            headers={"x-api-key": self._api_key.get_secret_value(), "accept": "application/json"},
        )
        results = body.get("results")
        hits = [hit for hit in map(to_hit, results if isinstance(results, list) else []) if hit]
        return SearchPage(hits[:wanted], request_id=text(body.get("requestId")))


def to_hit(result: Any) -> SearchHit | None:
    """One Exa result as a contract hit, or None when it has no usable URL."""
    if not isinstance(result, dict):
        return None
    url = http_url(result.get("url"))
    if url is None:
        return None
    return SearchHit(
        id=text(result.get("id")) or url,
        url=url,
        title=text(result.get("title")) or url,
        author=text(result.get("author")),
        published_date=rfc3339(result.get("publishedDate")),
        image=http_url(result.get("image")),
        favicon=http_url(result.get("favicon")),
    )
