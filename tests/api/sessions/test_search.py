"""``POST /v1/search`` through the official ``browserbase`` SDK against real servers whose search
backend is a local stand-in speaking the service's real protocol (tests/support/search_standins.py):
a SearXNG JSON API and an Exa-style API.

Expected results are computed here from what the stand-in actually answered for the query (its
recorded JSON), with this module's own reading of each service's fields, and compared field by field
with what the SDK parsed. httpx checks what the SDK hides (headers, the exact error body).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from browserbase import AuthenticationError, BadRequestError, Browserbase, InternalServerError

from tests.support._ports import free_port
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.search_standins import EXA_KEY, SEARXNG_PAGE_SIZE, ExaStandIn, SearxngStandIn, matches

pytestmark = pytest.mark.xdist_group("search")
SEARCH_TIMEOUT_S = 1.0


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def searx() -> Iterator[SearxngStandIn]:
    with SearxngStandIn() as stand_in:
        yield stand_in  # type: ignore[misc]


@pytest.fixture(scope="module")
def exa() -> Iterator[ExaStandIn]:
    with ExaStandIn() as stand_in:
        yield stand_in  # type: ignore[misc]


@pytest.fixture(autouse=True)
def _fresh_stand_ins(searx: SearxngStandIn, exa: ExaStandIn) -> None:
    searx.reset()
    exa.reset()
    exa.api_key = EXA_KEY


@pytest.fixture(scope="module")
def sx_server(harness: FleetHarness, searx: SearxngStandIn) -> Iterator[RunningServer]:
    running = harness.server(
        search_backend="searxng", searxng_url=searx.url, search_timeout_s=SEARCH_TIMEOUT_S
    )
    yield running
    harness.stop_server(running)


@pytest.fixture(scope="module")
def exa_server(harness: FleetHarness, exa: ExaStandIn) -> Iterator[RunningServer]:
    running = harness.server(search_backend="exa", exa_api_key=EXA_KEY, exa_base_url=exa.url)
    yield running
    harness.stop_server(running)


_CLIENTS: list[Browserbase] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()  # no pooled sockets left for the garbage collector to warn about


def sdk(harness: FleetHarness, server: RunningServer, key: str | None = None) -> Browserbase:
    client = Browserbase(api_key=key or harness.new_key(server), base_url=server.url)
    _CLIENTS.append(client)
    return client


def post(harness: FleetHarness, server: RunningServer, body: dict[str, Any]) -> httpx.Response:
    key = harness.new_key(server)
    return httpx.post(f"{server.url}/v1/search", json=body, headers={"X-BB-API-Key": key}, timeout=15)


def envelope(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"statusCode", "error", "message"}, body
    assert body["statusCode"] == status and body["message"].strip(), body
    return body


def error_message(exc: pytest.ExceptionInfo[Exception]) -> str:
    body = getattr(exc.value, "body", None)
    assert isinstance(body, dict), exc.value
    message: str = body["message"]
    return message


# ---------------------------------------------------------------------------- expectations
def utc_date(raw: Any) -> datetime | None:
    """This test's own reading of a service's date: ISO 8601, naive meaning UTC; else None."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def absolute(url: str | None) -> str | None:
    if not url:
        return None
    return "https:" + url if url.startswith("//") else url


def expected_from_searxng(answer: dict[str, Any]) -> list[dict[str, Any]]:
    expected = []
    for raw in answer["results"]:
        if not raw["url"].startswith(("http://", "https://")):
            continue  # browserfleet drops results it cannot link to
        expected.append(
            {
                "id": raw["url"],
                "url": raw["url"],
                "title": raw["title"] or raw["url"],
                "author": raw.get("author"),
                "published_date": utc_date(raw.get("publishedDate")),
                "image": absolute(raw.get("img_src") or raw.get("thumbnail")),
                "favicon": None,
            }
        )
    return expected


def expected_from_exa(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": raw["id"],
            "url": raw["url"],
            "title": raw["title"] or raw["url"],
            "author": raw["author"],
            "published_date": utc_date(raw["publishedDate"]),
            "image": absolute(raw["image"]),
            "favicon": raw["favicon"],
        }
        for raw in answer["results"]
        if raw["url"].startswith(("http://", "https://"))
    ]


def as_dicts(results: list[Any]) -> list[dict[str, Any]]:
    fields = ("id", "url", "title", "author", "published_date", "image", "favicon")
    return [{name: getattr(r, name) for name in fields} for r in results]


# ---------------------------------------------------------------------------- SearXNG
@pytest.mark.parametrize("query", ["browser automation", "Chromium", "searxng metasearch"])
def test_searxng_results_are_mapped_field_by_field(
    harness: FleetHarness, sx_server: RunningServer, searx: SearxngStandIn, query: str
) -> None:
    client = sdk(harness, sx_server)
    response = client.search.web(query=query, num_results=10)

    # fewer than 10 matches: page 1, then page 2 (empty) to look for more
    assert [(r.method, r.path) for r in searx.requests] == [("GET", "/search")] * 2
    assert [r.params["pageno"] for r in searx.requests] == ["1", "2"]
    for seen in searx.requests:
        assert seen.params["q"] == query and seen.params["format"] == "json"
    assert searx.answers[0]["results"] and searx.answers[1]["results"] == [], searx.answers
    assert response.query == query
    assert as_dicts(response.results) == expected_from_searxng(searx.answers[0])
    assert response.results, "the corpus has matches for every parametrised query"
    assert response.request_id.strip()


def test_searxng_edge_fields_come_through_cleaned(
    harness: FleetHarness, sx_server: RunningServer, searx: SearxngStandIn
) -> None:
    """ "browser automation" brings an ftp:// hit (dropped) and "chromium" an untitled page with a
    malformed date (title = URL, no date); both checked against the raw answers."""
    client = sdk(harness, sx_server)
    automation = client.search.web(query="browser automation")
    raw_urls = [r["url"] for r in searx.answers[0]["results"]]
    assert any(u.startswith("ftp://") for u in raw_urls), raw_urls
    assert [r.url for r in automation.results] == [u for u in raw_urls if not u.startswith("ftp://")]

    searx.reset()
    chromium = client.search.web(query="chromium")
    untitled = [raw for raw in searx.answers[0]["results"] if not raw["title"]]
    assert len(untitled) == 1 and untitled[0]["publishedDate"] == "not a date", untitled
    hit = next(r for r in chromium.results if r.url == untitled[0]["url"])
    assert hit.title == hit.url and hit.published_date is None
    assert automation.request_id != chromium.request_id  # generated per request (SearXNG has none)


def test_searxng_num_results_is_respected_across_pages(
    harness: FleetHarness, sx_server: RunningServer, searx: SearxngStandIn
) -> None:
    query = "programming language"
    total = len(matches(query))
    assert SEARXNG_PAGE_SIZE < total < 2 * SEARXNG_PAGE_SIZE  # so two pages hold all of them
    client = sdk(harness, sx_server)

    few = client.search.web(query=query, num_results=3)
    assert [r.params["pageno"] for r in searx.requests] == ["1"]
    first_page = [raw["url"] for raw in searx.answers[0]["results"]]
    assert [r.url for r in few.results] == first_page[:3]

    searx.reset()
    more = client.search.web(query=query, num_results=total)
    assert [r.params["pageno"] for r in searx.requests] == ["1", "2"]
    both_pages = [raw["url"] for answer in searx.answers for raw in answer["results"]]
    assert [r.url for r in more.results] == both_pages and len(both_pages) == total

    searx.reset()
    default = post(harness, sx_server, {"query": query})  # numResults omitted: 10
    assert default.status_code == 200, default.text
    assert [r["url"] for r in default.json()["results"]] == both_pages[:10]
    assert set(default.json()) == {"requestId", "query", "results"}


def test_query_of_200_characters_is_accepted(
    harness: FleetHarness, sx_server: RunningServer, searx: SearxngStandIn
) -> None:
    query = ("chromium " * 30)[:200]
    response = post(harness, sx_server, {"query": query, "numResults": 25})
    assert response.status_code == 200, response.text
    assert searx.requests[0].params["q"] == query
    assert response.json()["query"] == query


# ---------------------------------------------------------------------------- Exa
def test_exa_results_key_and_request_id(
    harness: FleetHarness, exa_server: RunningServer, exa: ExaStandIn
) -> None:
    client = sdk(harness, exa_server)
    response = client.search.web(query="chromium", num_results=2)

    assert len(exa.requests) == 1
    seen = exa.requests[0]
    assert (seen.method, seen.path) == ("POST", "/search")
    assert seen.headers["x-api-key"] == EXA_KEY
    assert seen.body == {"query": "chromium", "numResults": 2}
    answer = exa.answers[0]
    assert response.request_id == answer["requestId"]
    assert len(response.results) == 2
    assert as_dicts(response.results) == expected_from_exa(answer)

    # the SDK's provider naming this server's backend is accepted; untitled page, bad date cleaned
    third = client.search.web(provider="exa", query="puppeteer", num_results=5)
    raw = exa.answers[-1]["results"]
    assert len(raw) == 1 and raw[0]["title"] is None and raw[0]["publishedDate"] == "not a date"
    assert as_dicts(third.results) == expected_from_exa(exa.answers[-1])
    assert third.results[0].title == raw[0]["url"] and third.results[0].published_date is None


def test_exa_bare_date_and_image_mapping(
    harness: FleetHarness, exa_server: RunningServer, exa: ExaStandIn
) -> None:
    client = sdk(harness, exa_server)
    response = client.search.web(query="searxng")
    raw = exa.answers[-1]["results"][0]
    assert raw["publishedDate"] == "2022-05-17" and raw["image"].startswith("//"), raw
    hit = response.results[0]
    assert hit.published_date == datetime(2022, 5, 17, tzinfo=UTC)
    assert hit.image == "https:" + raw["image"]


def test_provider_other_than_the_backend_is_400(
    harness: FleetHarness, exa_server: RunningServer, exa: ExaStandIn
) -> None:
    client = sdk(harness, exa_server)
    with pytest.raises(BadRequestError) as exc:
        client.search.web(provider="parallel", query="chromium")
    assert "parallel" in error_message(exc) and "exa" in error_message(exc)
    assert exa.requests == []


def test_exa_rejecting_the_key_is_502_without_retries(
    harness: FleetHarness, exa_server: RunningServer, exa: ExaStandIn
) -> None:
    exa.api_key = "rotated-key"
    client = sdk(harness, exa_server)
    with pytest.raises(InternalServerError) as exc:
        client.search.web(query="chromium")
    assert exc.value.status_code == 502
    assert "Exa" in error_message(exc) and "401" in error_message(exc)
    assert EXA_KEY not in error_message(exc)
    assert len(exa.requests) == 1  # x-should-retry: false, so the SDK did not try again


# ---------------------------------------------------------------------------- errors
def test_unconfigured_server_answers_503_naming_the_settings(
    harness: FleetHarness, server: RunningServer
) -> None:
    assert server.settings.search_backend is None
    with pytest.raises(InternalServerError) as exc:
        sdk(harness, server).search.web(query="chromium")
    assert exc.value.status_code == 503
    response = post(harness, server, {"query": "chromium"})
    body = envelope(response, 503)
    assert body["error"] == "Service Unavailable"
    assert response.headers["x-should-retry"] == "false"
    for setting in ("BROWSERFLEET_SEARCH_BACKEND", "BROWSERFLEET_SEARXNG_URL", "BROWSERFLEET_EXA_API_KEY"):
        assert setting in body["message"], body
    assert body["message"] == error_message(exc)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "   "}, "query"),
        ({"query": "x" * 201}, "query"),
        ({"numResults": 5}, "query"),
        ({"query": "chromium", "numResults": 0}, "numResults"),
        ({"query": "chromium", "numResults": 26}, "numResults"),
        ({"query": "chromium", "numResults": "many"}, "numResults"),
        ({"query": 42}, "query"),
    ],
)
def test_invalid_bodies_are_400(
    harness: FleetHarness,
    sx_server: RunningServer,
    server: RunningServer,
    searx: SearxngStandIn,
    body: dict[str, Any],
    field: str,
) -> None:
    for target in (sx_server, server):  # validation comes before the "not configured" 503
        answer = envelope(post(harness, target, body), 400)
        assert answer["error"] == "Bad Request" and field in answer["message"], answer
    assert searx.requests == []


def test_sdk_sees_400_for_a_blank_query(harness: FleetHarness, sx_server: RunningServer) -> None:
    with pytest.raises(BadRequestError) as exc:
        sdk(harness, sx_server).search.web(query="", num_results=3)
    assert "query" in error_message(exc)


def test_unknown_key_is_401(harness: FleetHarness, sx_server: RunningServer, searx: SearxngStandIn) -> None:
    client = sdk(harness, sx_server, key="bb_not_a_key")
    with pytest.raises(AuthenticationError):
        client.search.web(query="chromium")
    assert searx.requests == []


@pytest.mark.parametrize("status", [500, 503, 404])
def test_backend_error_status_is_502(
    harness: FleetHarness, sx_server: RunningServer, searx: SearxngStandIn, status: int
) -> None:
    searx.fail_status = status
    with pytest.raises(InternalServerError) as exc:
        sdk(harness, sx_server).search.web(query="chromium")
    assert exc.value.status_code == 502
    assert f"SearXNG answered HTTP {status}" in error_message(exc)
    assert len(searx.requests) == 1
    response = post(harness, sx_server, {"query": "chromium"})
    assert envelope(response, 502)["error"] == "Bad Gateway"
    assert response.headers["x-should-retry"] == "false"


def test_backend_timeout_is_502(
    harness: FleetHarness, sx_server: RunningServer, searx: SearxngStandIn
) -> None:
    searx.delay_s = SEARCH_TIMEOUT_S + 0.5
    with pytest.raises(InternalServerError) as exc:
        sdk(harness, sx_server).search.web(query="chromium")
    assert exc.value.status_code == 502
    assert "did not answer within 1 s" in error_message(exc)


def test_backend_down_is_502(harness: FleetHarness) -> None:
    down = harness.server(search_backend="searxng", searxng_url=f"http://127.0.0.1:{free_port()}/")
    try:
        response = post(harness, down, {"query": "chromium"})
        body = envelope(response, 502)
        assert "SearXNG could not be reached" in body["message"], body
        assert response.headers["x-should-retry"] == "false"
    finally:
        harness.stop_server(down)
