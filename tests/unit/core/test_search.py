"""Search backends' mapping of service results to the contract, and the search settings.

Pure functions: edge cases the stand-ins in the API tests do not all produce (missing fields,
malformed and out-of-range dates, non-http URLs, author lists)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from browserfleet.core.errors import Misconfigured
from browserfleet.core.sessions.search import ExaBackend, SearxngBackend, build_backend
from browserfleet.core.sessions.search import exa as exa_mapping
from browserfleet.core.sessions.search import searxng as searxng_mapping
from browserfleet.core.sessions.search.base import http_url, rfc3339
from browserfleet.settings import Settings, load_settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-01T10:20:30", "2024-03-01T10:20:30.000Z"),  # SearXNG: naive means UTC
        ("2023-11-16T01:36:32.547Z", "2023-11-16T01:36:32.547Z"),  # Exa
        ("2022-05-17", "2022-05-17T00:00:00.000Z"),  # Exa: a bare date
        ("2024-01-01T01:30:00+02:00", "2023-12-31T23:30:00.000Z"),  # offsets become UTC
        ("Tue, 15 Nov 1994 08:12:31 GMT", "1994-11-15T08:12:31.000Z"),  # RFC 2822 (feeds)
        ("  2020-02-29T12:00:00Z ", "2020-02-29T12:00:00.000Z"),
    ],
)
def test_dates_become_rfc3339_utc(raw: str, expected: str) -> None:
    assert rfc3339(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [None, "", "   ", "not a date", "2024-13-45", "yesterday", 1700000000, "0001-01-01T00:30:00+01:00", []],
)
def test_bad_dates_become_none(raw: Any) -> None:
    assert rfc3339(raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://a.example/x?q=1", "https://a.example/x?q=1"),
        ("HTTP://a.example", "HTTP://a.example"),
        ("//img.example/t.png", "https://img.example/t.png"),
        ("/image_proxy?url=x", None),
        ("ftp://a.example/f", None),
        ("data:image/png;base64,AAAA", None),
        ("https://", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_only_absolute_http_urls_are_kept(raw: Any, expected: str | None) -> None:
    assert http_url(raw) == expected


def test_searxng_result_with_every_field() -> None:
    hit = searxng_mapping.to_hit(
        {
            "url": "https://a.example/p",
            "title": "  A page ",
            "content": "ignored",
            "publishedDate": "2024-03-01T10:20:30",
            "img_src": "https://img.example/full.png",
            "thumbnail": "https://img.example/thumb.png",
            "authors": ["Ada", " ", "Grace"],
            "author": "ignored when authors is given",
            "engine": "arxiv",
        }
    )
    assert hit is not None
    assert (hit.id, hit.url, hit.title) == ("https://a.example/p", "https://a.example/p", "A page")
    assert hit.author == "Ada, Grace"
    assert hit.published_date == "2024-03-01T10:20:30.000Z"
    assert hit.image == "https://img.example/full.png"  # img_src first, thumbnail as fallback
    assert hit.favicon is None


def test_searxng_result_with_missing_and_bad_fields() -> None:
    hit = searxng_mapping.to_hit(
        {"url": "https://b.example/", "publishedDate": None, "pubdate": "2021-06-01", "thumbnail": ""}
    )
    assert hit is not None
    assert hit.title == "https://b.example/"  # no title: the URL
    assert hit.published_date == "2021-06-01T00:00:00.000Z"  # pubdate when publishedDate is null
    assert hit.image is None and hit.author is None
    bad = searxng_mapping.to_hit({"url": "https://c.example/", "publishedDate": "garbage", "author": 7})
    assert bad is not None and bad.published_date is None and bad.author is None


@pytest.mark.parametrize("raw", [{}, {"title": "no url"}, {"url": "mailto:x@y"}, "https://x", None, []])
def test_searxng_results_without_a_usable_url_are_dropped(raw: Any) -> None:
    assert searxng_mapping.to_hit(raw) is None


def test_exa_result_mapping() -> None:
    full = exa_mapping.to_hit(
        {
            "id": "exa-123",
            "url": "https://a.example/",
            "title": "A",
            "author": "Ada",
            "publishedDate": "2000-01-01",
            "image": "https://img.example/a.png",
            "favicon": "https://a.example/favicon.ico",
            "score": 0.9,
        }
    )
    assert full is not None
    assert (full.id, full.title, full.author) == ("exa-123", "A", "Ada")
    assert full.published_date == "2000-01-01T00:00:00.000Z"
    assert (full.image, full.favicon) == ("https://img.example/a.png", "https://a.example/favicon.ico")

    sparse = exa_mapping.to_hit(
        {"url": "https://b.example/", "title": None, "author": None, "publishedDate": "n/a", "favicon": ""}
    )
    assert sparse is not None
    assert (sparse.id, sparse.title) == ("https://b.example/", "https://b.example/")
    assert sparse.author is None and sparse.published_date is None and sparse.favicon is None
    assert exa_mapping.to_hit({"id": "x", "title": "no url"}) is None


def test_settings_reject_a_backend_without_its_url_or_key(tmp_path: Any) -> None:
    with pytest.raises(ValidationError, match="BROWSERFLEET_SEARXNG_URL"):
        Settings(data_dir=tmp_path, search_backend="searxng")
    with pytest.raises(ValidationError, match="BROWSERFLEET_EXA_API_KEY"):
        Settings(data_dir=tmp_path, search_backend="exa", exa_api_key="")
    with pytest.raises(Misconfigured, match="search_backend=exa needs exa_api_key"):
        load_settings(data_dir=tmp_path, search_backend="exa")
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, search_backend="google", searxng_url="http://x")


def test_build_backend_follows_the_settings_and_hides_the_key(tmp_path: Any) -> None:
    assert build_backend(Settings(data_dir=tmp_path)) is None
    assert build_backend(Settings(data_dir=tmp_path, searxng_url="http://s.example")) is None  # not chosen
    searx = build_backend(
        Settings(
            data_dir=tmp_path, search_backend="searxng", searxng_url="http://s.example/", search_timeout_s=3
        )
    )
    assert isinstance(searx, SearxngBackend)
    assert (searx.base_url, searx.timeout_s) == ("http://s.example", 3)

    secret = "exa-secret-value"
    settings = Settings(data_dir=tmp_path, search_backend="exa", exa_api_key=secret)
    exa = build_backend(settings)
    assert isinstance(exa, ExaBackend) and exa.base_url == "https://api.exa.ai"
    assert secret not in repr(settings) and secret not in repr(exa) and secret not in str(settings)
