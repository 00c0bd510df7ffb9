"""The test site's JavaScript does its job in the real headless Chromium."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from browserfleet.settings import CHROMIUM_FLAGS

CHROMIUM = "/usr/lib/chromium/chromium-headless-shell"
CHROMIUM_ARGS = list(CHROMIUM_FLAGS)

pytestmark = pytest.mark.browser


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def test_js_content_and_images(site_url: str) -> None:
    token = uuid.uuid4().hex
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(site_url + "/js-content")
        await page.wait_for_selector("#from-api")
        products = page.locator("#products li.product")
        assert await products.count() == 20
        assert await products.first.text_content() == "Product 1 \u2014 $10.00"
        assert await products.first.get_attribute("data-sku") == "SKU-001"
        assert await products.last.text_content() == "Product 20 \u2014 $200.00"
        assert await page.text_content("#from-api") == "Alpha, Beta, Gamma"
        assert await page.title() == "JS content"

        await page.goto(f"{site_url}/images?t={token}", wait_until="load")
    async with httpx.AsyncClient() as client:
        hits = (await client.get(f"{site_url}/hits", params={"t": token})).json()
    assert hits == {"t": token, "images": 5}


async def test_geo_timezone_locale(site_url: str) -> None:
    async with chromium() as browser:
        context = await browser.new_context(
            timezone_id="Asia/Tokyo",
            locale="de-DE",
            geolocation={"latitude": 35.6, "longitude": 139.6},
            permissions=["geolocation"],
        )
        page = await context.new_page()
        await page.goto(site_url + "/geo")
        await page.wait_for_selector("#geo-done", state="attached", timeout=10_000)
        assert await page.locator("#geo-error").count() == 0
        assert await page.text_content("#tz") == "Asia/Tokyo"
        assert await page.text_content("#offset") == "-540"
        assert await page.text_content("#lang") == "de-DE"
        assert (await page.text_content("#langs") or "").startswith("de-DE")
        assert float(await page.text_content("#lat") or "nan") == pytest.approx(35.6)
        assert float(await page.text_content("#lon") or "nan") == pytest.approx(139.6)
        await context.close()


async def test_click_and_search(site_url: str) -> None:
    async with chromium() as browser:
        page = await browser.new_page()
        await page.goto(site_url + "/click")
        assert await page.locator("#revealed").count() == 0
        assert await page.is_visible("#cookie-banner")
        await page.click("#reveal")
        assert await page.text_content("#revealed") == "You clicked it"
        await page.click("#cookie-accept")
        assert await page.is_hidden("#cookie-banner")

        await page.goto(site_url + "/search")
        await page.fill("#q", "blue widgets")
        await page.click("#go")
        results = page.locator("#results li.result")
        await results.first.wait_for()
        texts = await results.all_text_contents()
        assert len(texts) == 3
        assert all("blue widgets" in t for t in texts)
        assert page.url == site_url + "/search"  # handled by JS, no reload
