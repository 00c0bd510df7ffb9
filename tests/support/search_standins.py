"""Web search services stand-ins on 127.0.0.1: a SearXNG JSON API and an Exa-style search API.

Both search the same small fixed :data:`CORPUS` (a document matches when every query word occurs
in its title or content, case-insensitively) and answer in their service's real shape:

* :class:`SearxngStandIn`: ``GET /search?q=…&format=json&pageno=N`` →
  ``{"query", "number_of_results", "results": [...], "answers", "corrections", "infoboxes",
  "suggestions", "unresponsive_engines"}``, :data:`SEARXNG_PAGE_SIZE` results a page, each with
  ``url, title, content, engine, engines, parsed_url, template, positions, score, category`` and,
  when the document has them, ``publishedDate`` (naive ISO 8601 as SearXNG serialises it, or
  null), ``thumbnail``, ``img_src``, ``author``. Like a stock SearXNG it answers 403 unless
  ``format=json`` is asked for.
* :class:`ExaStandIn`: ``POST /search`` with ``x-api-key`` and ``{"query", "numResults"}`` →
  ``{"requestId", "resolvedSearchType", "results": [{id, url, title, author, publishedDate, image,
  favicon, score}], "searchTime"}``; another key gets 401 ``{"error": ...}``.

Knobs (reset by :meth:`reset`): ``fail_status`` (answer every search with that status) and
``delay_s`` (sleep before answering). Every request is in ``requests`` and every JSON answer in
``answers``, so tests compare browserfleet's output with what the stand-in really sent.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.support.standin import Request, Response, StandIn, json_response

SEARXNG_PAGE_SIZE = 10
EXA_KEY = "exa-test-key"


@dataclass(frozen=True)
class Doc:
    url: str
    title: str | None
    content: str
    published: str | None = None  # as the service would send it (may be malformed on purpose)
    image: str | None = None
    thumbnail: str | None = None
    author: str | None = None
    favicon: str | None = None


_LANGS = ["rust", "go", "zig", "nim", "ocaml", "haskell", "elixir", "kotlin", "swift", "scala", "julia"]

CORPUS: list[Doc] = [
    Doc(
        "https://chromium.example/headless",
        "Headless Chromium explained",
        "How headless browser automation drives Chromium over CDP.",
        published="2024-03-01T10:20:30",
        thumbnail="https://img.example/headless-thumb.png",
        author="Ada Lovelace",
        favicon="https://chromium.example/favicon.ico",
    ),
    Doc(
        "https://playwright.example/docs/intro",
        "Playwright: browser automation for testing",
        "Playwright automates Chromium, Firefox and WebKit with one API.",
        published="2023-11-16T01:36:32.547Z",
        image="https://img.example/playwright.png",
    ),
    Doc(
        "https://puppeteer.example/",
        None,  # a page without a title: the URL stands in
        "Puppeteer is a Node library to control headless Chromium.",
        published="not a date",
    ),
    Doc(
        "https://searx.example/about",
        "About SearXNG, the metasearch engine",
        "SearXNG aggregates results from many search engines without tracking.",
        published="2022-05-17",
        thumbnail="//img.example/searx.png",  # protocol-relative, as some engines give it
    ),
    Doc(
        "ftp://files.example/browser-automation.txt",  # not http(s): dropped by browserfleet
        "Browser automation notes over FTP",
        "An ftp copy of browser automation notes.",
    ),
    *[
        Doc(
            f"https://lang.example/{lang}",
            f"The {lang.title()} programming language",
            f"A programming language tutorial: {lang} basics, tooling and ecosystem.",
            published=f"2021-{month:02d}-0{1 + month % 9}T08:00:00",
            author=f"{lang.title()} Team",
        )
        for month, lang in enumerate(_LANGS, start=1)
    ],
]


def matches(query: str) -> list[Doc]:
    words = query.lower().split()
    return [d for d in CORPUS if all(w in f"{d.title or ''} {d.content}".lower() for w in words)]


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any = None


class _SearchStandIn(StandIn[Seen]):
    def __init__(self) -> None:
        super().__init__()
        self.fail_status: int | None = None
        self.delay_s = 0.0
        self.answers: list[dict[str, Any]] = []

    def reset(self) -> None:
        with self._lock:
            super().reset()
            self.fail_status = None
            self.delay_s = 0.0
            self.answers.clear()

    # ------------------------------------------------------------------ protocol
    def respond(self, request: Request) -> Response:
        seen = Seen(request.method, request.path, request.params, request.headers, request.json(default=None))
        with self._lock:
            self.record(seen)
            delay, fail = self.delay_s, self.fail_status
        time.sleep(delay)
        if fail is not None:
            return json_response({"error": f"stand-in told to fail with {fail}"}, fail)
        status, payload = self.answer(seen)
        if status == 200:
            with self._lock:
                self.answers.append(payload)
        return json_response(payload, status)

    def answer(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError


class SearxngStandIn(_SearchStandIn):
    name = "searxng-stand-in"

    def answer(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        if seen.method != "GET" or seen.path not in ("/search", "/"):
            return 404, {"error": "not found"}
        if seen.params.get("format") != "json":  # stock SearXNG: only formats enabled in settings
            return 403, {"error": "format not allowed"}
        query = seen.params.get("q", "")
        page = max(1, int(seen.params.get("pageno") or 1))
        found = matches(query)
        chosen = found[(page - 1) * SEARXNG_PAGE_SIZE : page * SEARXNG_PAGE_SIZE]
        return 200, {
            "query": query,
            "number_of_results": 0,  # real instances often say 0; clients must count results
            "results": [_searxng_result(d, i) for i, d in enumerate(chosen, start=1)],
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "suggestions": [f"{query} tutorial"],
            "unresponsive_engines": [],
        }


def _searxng_result(doc: Doc, position: int) -> dict[str, Any]:
    parts = urlsplit(doc.url)
    result: dict[str, Any] = {
        "url": doc.url,
        "title": doc.title or "",
        "content": doc.content,
        "engine": "duckduckgo",
        "parsed_url": [parts.scheme, parts.netloc, parts.path, "", parts.query, parts.fragment],
        "template": "default.html",
        "engines": ["duckduckgo", "brave"],
        "positions": [position],
        "score": round(2.0 / position, 3),
        "category": "general",
        "publishedDate": doc.published,
        "thumbnail": doc.thumbnail or "",
    }
    if doc.image:
        result["img_src"] = doc.image
    if doc.author:
        result["author"] = doc.author
    return result


class ExaStandIn(_SearchStandIn):
    name = "exa-stand-in"

    def __init__(self, api_key: str = EXA_KEY) -> None:
        super().__init__()
        self.api_key = api_key

    def answer(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        if seen.method != "POST" or seen.path != "/search":
            return 404, {"error": "not found"}
        if seen.headers.get("x-api-key") != self.api_key:
            return 401, {"error": "Invalid API key"}
        body = seen.body if isinstance(seen.body, dict) else {}
        query, wanted = body.get("query"), body.get("numResults", 10)
        if not isinstance(query, str) or not isinstance(wanted, int):
            return 400, {"error": "query (string) and numResults (integer) are required"}
        results = [_exa_result(d, i) for i, d in enumerate(matches(query)[:wanted], start=1)]
        return 200, {
            "requestId": uuid.uuid4().hex,
            "resolvedSearchType": "neural",
            "results": results,
            "searchTime": 12.5,
        }


def _exa_result(doc: Doc, position: int) -> dict[str, Any]:
    return {
        "id": doc.url,
        "url": doc.url,
        "title": doc.title,  # Exa sends null for pages without a title
        "author": doc.author,
        "publishedDate": doc.published,
        "image": doc.image or doc.thumbnail,
        "favicon": doc.favicon,
        "score": round(1.0 / position, 3),
    }
