"""The submit-time selector check (core/css_selector.py): it refuses what cannot be CSS and lets
through everything Playwright or a browser takes (its own engines, ``>>`` chains, pseudo-classes
with arguments cssselect does not parse). The two lists were compared against Playwright 1.65 with
Debian's Chromium: every refused one is refused there too, every accepted one is accepted there."""

from __future__ import annotations

import pytest

from browserfleet.core.css_selector import check_selector, native_css

REFUSED = [
    "0",
    "1a",
    "div[",
    "##a",
    ".a,",
    "a,,b",
    "[]",
    "a[href*=example.com]",
    "css=0",
    "div >> 0",
    "text=x >> div[",
    ".-1a",
    "a|",
]
ACCEPTED = [
    "div",
    "#a > .b ~ c + d",
    "text=hi",
    'text="a >> b"',
    "'quoted'",
    "//div",
    "(//div)[1]",
    "..",
    "xpath=//div",
    "id=foo",
    "data-testid=x",
    "internal:role=button",
    "role=button[name='x']",
    "div:has-text('hi')",
    "div:has-text('a)')",
    "div:visible",
    ":nth-match(div, 1)",
    "div:right-of(#a)",
    "div:not(.a, .b)",
    "div:nth-child(2n+1 of .a)",
    "div:has(> p)",
    "a:has(~ b, > c)",
    "> div",
    "a, > b",
    "+ a",
    "div >> > span",
    "button:has-text('Log in') >> visible=true",
    "div >> nth=0",
    '[data-x="1" i]',
    "[x='a(b']",
    ".--foo",
    "[--x=a]",
    "#\\31 23",
    "\\",
    ".café",
    "html body div#main.content > ul li:nth-of-type(3) a[href^='http']",
    "input[type=checkbox]:checked + label",
    ":scope > div",
    "details[open] > summary",
]


@pytest.mark.parametrize("selector", REFUSED)
def test_what_cannot_be_css_is_refused(selector: str) -> None:
    with pytest.raises(ValueError, match="not a valid CSS selector"):
        check_selector(selector)


@pytest.mark.parametrize("selector", ACCEPTED)
def test_playwright_and_browser_selectors_pass(selector: str) -> None:
    assert check_selector(selector) == selector


# plain CSS: a browser's querySelector takes it as Playwright's CSS engine does (the render's page lane)
NATIVE = [
    "#late-ready",
    "div.a > span",
    "a[href]",
    'input[name="q=1"]',
    "button:not(.x, .y)",
    "ul li:nth-child(2n)",
]
# Playwright's own: engines, chains, text, XPath, its pseudo-classes
NOT_NATIVE = [
    "css=div",
    "text=Buy",
    '"Buy"',
    "//div",
    "div >> span",
    "li:has-text('x')",
    "li:visible",
    "button:text-is('Go')",
    "a:right-of(#b)",
]


@pytest.mark.parametrize("selector", NATIVE)
def test_plain_css_is_native(selector: str) -> None:
    assert native_css(selector)


@pytest.mark.parametrize("selector", NOT_NATIVE)
def test_playwright_selectors_are_not_native(selector: str) -> None:
    assert not native_css(selector)
