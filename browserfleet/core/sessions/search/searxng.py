"""SearXNG through its JSON API: ``GET {url}/search?q=QUERY&format=json&pageno=N``.

SearXNG answers ``{"query", "number_of_results", "results": [...], "answers", "suggestions",
"infoboxes", "unresponsive_engines", ...}``; each result has ``url``, ``title``, ``content``,
``engine(s)``, ``score``, ``category`` and, depending on its template, ``publishedDate`` (ISO 8601,
often without a zone, or null), ``pubdate``, ``thumbnail``, ``img_src``, ``author`` or ``authors``.
The instance must allow the format: ``search: formats: [html, json]`` in its settings.yml (else it
answers 403, reported as such).

Mapping to the contract: ``id`` is the result's URL (SearXNG has no ids; the URL is stable across
queries and unique within an answer, since SearXNG merges duplicates), ``title`` falls back to the
URL, ``author`` is ``author`` or the ``authors`` list joined by ", ", ``publishedDate`` is
``publishedDate``/``pubdate`` as RFC 3339 UTC, ``image`` is ``img_src`` else ``thumbnail``, and
``favicon`` is never set (SearXNG serves favicons only through its own HTML proxy). Results
without an absolute http(s) URL are dropped. A page holds about ten results, so for larger
``numResults`` the next pages are asked for (at most :data:`MAX_PAGES`) until there are enough or a
page adds nothing new.
"""

from __future__ import annotations

from typing import Any

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

MAX_PAGES = 5


class SearxngBackend(SearchBackend):
    name = "searxng"

    def __init__(self, base_url: str, *, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    async def search(self, query: str, num_results: int) -> SearchPage:
        wanted = max(1, min(num_results, MAX_RESULTS))
        hits: dict[str, SearchHit] = {}
        for page in range(1, MAX_PAGES + 1):
            fresh = [hit for hit in await self._page(query, page) if hit.id not in hits]
            hits.update((hit.id, hit) for hit in fresh)
            if not fresh or len(hits) >= wanted:
                break
        return SearchPage(list(hits.values())[:wanted])

    async def _page(self, query: str, page: int) -> list[SearchHit]:
        params = {"q": query, "format": "json", "pageno": str(page)}
        body = await request_json(
            "SearXNG", "GET", f"{self.base_url}/search", timeout_s=self.timeout_s, params=params
        )
        results = body.get("results")
        if not isinstance(results, list):
            return []
        return [hit for hit in map(to_hit, results) if hit is not None]


def to_hit(result: Any) -> SearchHit | None:
    """One SearXNG result as a contract hit, or None when it has no usable URL."""
    if not isinstance(result, dict):
        return None
    url = http_url(result.get("url"))
    if url is None:
        return None
    return SearchHit(
        id=url,
        url=url,
        title=text(result.get("title")) or url,
        author=_author(result),
        published_date=rfc3339(result.get("publishedDate")) or rfc3339(result.get("pubdate")),
        image=http_url(result.get("img_src")) or http_url(result.get("thumbnail")),
    )


def _author(result: dict[str, Any]) -> str | None:
    authors = result.get("authors")
    if isinstance(authors, list):
        names = [name for name in map(text, authors) if name]
        if names:
            return ", ".join(names)
    return text(result.get("author"))
