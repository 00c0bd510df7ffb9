"""``faviconUrl`` of a debug page is always a URI (Browserbase's schema requires one)."""

from __future__ import annotations

from browserfleet.node.session.routes.live_urls import favicon_of


def test_the_listed_favicon_wins() -> None:
    assert (
        favicon_of("https://example.com/a", "https://cdn.example.com/i.png")
        == "https://cdn.example.com/i.png"
    )


def test_a_page_without_one_gets_its_origins_favicon_or_about_blank() -> None:
    assert favicon_of("http://127.0.0.1:8000/shop?x=1", "") == "http://127.0.0.1:8000/favicon.ico"
    assert favicon_of("about:blank", "") == "about:blank"
    assert favicon_of("data:text/html,hi", "") == "about:blank"
