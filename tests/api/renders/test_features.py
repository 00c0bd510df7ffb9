"""Renders API features through the official browser7 SDK, against a real server and Chromium.

Renders are created with the SDK; most tests then finish them with one long-poll GET
(tests/support/render_client.py) instead of the SDK's ``render()``, which sleeps 2 s first.
One test goes through ``client.render()`` end to end. Every page is served by the local test
site (tests/site/), so every expectation below comes from the site or the city catalogue.
"""

from __future__ import annotations

import base64
import json
import re
import statistics
import time
import uuid
from importlib import resources
from typing import Any

import httpx
import pytest
from browser7 import (
    Browser7,
    ValidationError,
    wait_for_click,
    wait_for_delay,
    wait_for_selector,
    wait_for_text,
)

from tests.site.app import (
    HCAPTCHA_SITEKEY,
    RECAPTCHA_V2_SITEKEY,
    RECAPTCHA_V3_SITEKEY,
    TURNSTILE_SITEKEY,
)
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.render_client import (
    JPEG_MAGIC,
    PNG_MAGIC,
    Rendered,
    element,
    png_size,
    render_all,
    render_one,
    wait_render,
)

pytestmark = pytest.mark.browser

VIEWPORT = (1366, 768)
TIMING_KEYS = (
    "browserInitMs",
    "navigationMs",
    "loadStrategyMs",
    "captchaMs",
    "waitActionsMs",
    "screenshotMs",
    "htmlCaptureMs",
    "totalMs",
)


def catalogue_data() -> dict[str, Any]:
    """The bundled city catalogue, read as plain data (not through browserfleet's code)."""
    text = resources.files("browserfleet.core").joinpath("data", "cities.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def catalogue_city(name: str) -> dict[str, Any]:
    return next(c for c in catalogue_data()["cities"] if c["name"] == name)


def text_of(html: str, element_id: str) -> str:
    found = element(html, element_id)
    assert found is not None, f"#{element_id} missing from the rendered html"
    return found.text


def assert_timing(rendered: Rendered) -> dict[str, int]:
    timing = rendered.result.timing_breakdown
    assert timing is not None
    assert set(timing) == set(TIMING_KEYS)
    for key in TIMING_KEYS:
        assert isinstance(timing[key], int) and not isinstance(timing[key], bool), (key, timing[key])
        assert timing[key] >= 0, (key, timing[key])
    assert timing["totalMs"] == sum(v for k, v in timing.items() if k != "totalMs")
    return timing


# ------------------------------------------------------------------------ 1. JavaScript content

SKUS = [f"SKU-{i:03d}" for i in range(1, 21)]


def test_js_built_content_via_sdk_render_and_default_strategy(client: Browser7, site_url: str) -> None:
    raw = httpx.get(f"{site_url}/js-content").text
    assert "SKU-001" not in raw and "Gamma" not in raw  # the server sends an empty #app

    before = client.get_account_balance().total_balance_cents
    custom = client.render(f"{site_url}/js-content", wait_for=[wait_for_selector("#from-api .api-item")])
    default = render_one(client, f"{site_url}/js-content")
    after = client.get_account_balance().total_balance_cents

    for result, strategy in ((custom, "custom"), (default.result, "default")):
        assert result.status == "completed"
        assert result.load_strategy == strategy
        html = result.html
        assert html is not None
        assert re.findall(r'data-sku="(SKU-\d{3})"', html) == SKUS
        assert "Product 20 — $200.00" in html
        api_box = element(html, "from-api")
        assert api_box is not None, (strategy, result.timing_breakdown)
        assert api_box.text == "Alpha, Beta, Gamma"
        assert result.screenshot is None  # not asked for
        assert result.fetch_responses is None
    assert before - after == 2


# ------------------------------------------------------------------------------- 2. waitFor


def test_wait_for_selector_states(client: Browser7, site_url: str) -> None:
    visible, hidden, attached, unwaited = render_all(
        client,
        [
            (f"{site_url}/delayed?ms=1500", {"wait_for": [wait_for_selector("#late")]}),
            (f"{site_url}/hidden-later?ms=800", {"wait_for": [wait_for_selector("#spinner", "hidden")]}),
            (f"{site_url}/geo", {"wait_for": [wait_for_selector("#geo-done", "attached")]}),
            (f"{site_url}/delayed?ms=1500", {}),
        ],
    )
    assert text_of(visible.html, "late") == "Ready after delay"
    assert visible.result.load_strategy == "custom"
    # without a wait the timer has not fired yet: the element is JS-made, 1.5 s after load
    assert element(unwaited.html, "late") is None
    assert unwaited.result.load_strategy == "default"

    spinner = element(hidden.html, "spinner")
    assert spinner is not None
    assert re.fullmatch(r"display:\s*none;?", spinner.attrs.get("style", "").strip())
    assert hidden.result.load_strategy == "custom"

    done = element(attached.html, "geo-done")
    assert done is not None and done.text == ""  # empty, zero-height: attached but never visible
    assert attached.result.load_strategy == "custom"


def test_wait_for_selector_visible_times_out_on_an_invisible_element(client: Browser7, site_url: str) -> None:
    """The contrast to ``attached``: the empty #geo-done never becomes visible."""
    render_id = client.create_render(
        f"{site_url}/geo", wait_for=[wait_for_selector("#geo-done", "visible", timeout=1000)]
    )["renderId"]
    response = wait_render(client, render_id)
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "failed"
    assert body["errorCode"] == "WAIT_TIMEOUT"


def test_wait_for_text_with_and_without_scope(client: Browser7, site_url: str) -> None:
    unscoped, scoped, unscoped_stock = render_all(
        client,
        [
            (f"{site_url}/text-later?ms=800", {"wait_for": [wait_for_text("In Stock")]}),
            # .other already says "Out of Stock": only the scope makes this wait for .availability
            (
                f"{site_url}/text-later?ms=800",
                {"wait_for": [wait_for_text("Stock", selector=".availability")]},
            ),
            (f"{site_url}/text-later?ms=5000", {"wait_for": [wait_for_text("Stock")]}),
        ],
    )
    for rendered in (unscoped, scoped):
        availability = element(rendered.html, class_name="availability")
        assert availability is not None and availability.text == "In Stock"
        assert rendered.result.load_strategy == "custom"
    # unscoped, "Stock" is found at once in .other; .availability is still empty
    availability = element(unscoped_stock.html, class_name="availability")
    assert availability is not None and availability.text == ""
    other = element(unscoped_stock.html, class_name="other")
    assert other is not None and other.text == "Related product: Out of Stock"
    assert assert_timing(unscoped_stock)["waitActionsMs"] < 4000


def test_wait_for_click_and_delay(client: Browser7, site_url: str) -> None:
    clicked, delayed = render_all(
        client,
        [
            (f"{site_url}/click", {"wait_for": [wait_for_click("#reveal")]}),
            (f"{site_url}/delayed?ms=800", {"wait_for": [wait_for_delay(1500)]}),
        ],
    )
    revealed = element(clicked.html, "revealed")
    assert revealed is not None
    assert revealed.text == "You clicked it"
    assert revealed.attrs["data-clicks"] == "1"
    assert clicked.result.load_strategy == "custom"

    assert text_of(delayed.html, "late") == "Ready after delay"
    assert delayed.result.load_strategy == "custom"
    assert assert_timing(delayed)["waitActionsMs"] >= 1500


# --------------------------------------------------------------------------- 3. screenshots


def test_screenshots_png_jpeg_viewport_full_page_quality(client: Browser7, site_url: str) -> None:
    big = f"{site_url}/big?kb=20"
    png_view, png_full, jpeg_low, jpeg_high = render_all(
        client,
        [
            (f"{site_url}/js-content", {"include_screenshot": True, "screenshot_format": "png"}),
            (
                big,
                {"include_screenshot": True, "screenshot_format": "png", "screenshot_full_page": True},
            ),
            (big, {"include_screenshot": True, "screenshot_format": "jpeg", "screenshot_quality": 10}),
            (big, {"include_screenshot": True, "screenshot_format": "jpeg", "screenshot_quality": 90}),
        ],
    )
    images = {}
    for name, rendered in (("view", png_view), ("full", png_full), ("low", jpeg_low), ("high", jpeg_high)):
        assert rendered.result.screenshot is not None, name
        assert rendered.wire["screenshot"] == rendered.result.screenshot  # plain base64, not gzip
        images[name] = base64.b64decode(rendered.result.screenshot, validate=True)
        assert assert_timing(rendered)["screenshotMs"] > 0

    assert images["view"].startswith(PNG_MAGIC)
    assert png_size(images["view"]) == VIEWPORT
    assert images["full"].startswith(PNG_MAGIC)
    full_width, full_height = png_size(images["full"])
    assert full_width == VIEWPORT[0]
    assert full_height > 3 * VIEWPORT[1]  # ~20 KiB of paragraphs

    assert images["low"].startswith(JPEG_MAGIC) and images["high"].startswith(JPEG_MAGIC)
    assert len(images["low"]) < len(images["high"])


# ----------------------------------------------------------------------------- 4. fetchUrls


def test_fetch_urls_are_fetched_in_the_page_and_decoded_by_the_sdk(client: Browser7, site_url: str) -> None:
    urls = [f"{site_url}/api/json?n=3", f"{site_url}/api/text", f"{site_url}/api/status/404"]
    rendered = render_one(client, f"{site_url}/", fetch_urls=urls)
    assert isinstance(rendered.wire["fetchResponses"], str)  # base64 of gzip on the wire

    responses = rendered.result.fetch_responses
    assert isinstance(responses, list) and len(responses) == 3
    as_json, as_text, missing = responses
    assert [r["url"] for r in responses] == urls

    assert as_json["status"] == 200
    assert json.loads(as_json["body"]) == {
        "n": 3,
        "items": [{"id": i, "name": f"Item {i}"} for i in (1, 2, 3)],
    }
    assert as_json["headers"]["content-type"].startswith("application/json")
    assert as_text["status"] == 200
    assert as_text["body"] == "plain text from the site"
    assert missing["status"] == 404
    assert json.loads(missing["body"]) == {"status": 404}

    assert "<h1" in rendered.html  # the render itself completed normally


# ----------------------------------------------------------------------------------- 5. geo


GEO_WAIT = [wait_for_selector("#geo-done", "attached")]


@pytest.mark.parametrize(
    ("options", "city_name"),
    [({"city": "new.york"}, "new.york"), ({"country_code": "DE"}, None), ({"city": "london"}, "london")],
    ids=["city-new-york", "country-DE", "city-london"],
)
def test_geo_targeting(
    client: Browser7, site_url: str, options: dict[str, str], city_name: str | None
) -> None:
    data = catalogue_data()
    if city_name is None:  # a country alone means its default city
        city_name = data["countries"][options["country_code"]]["default"]
    city = catalogue_city(city_name)

    geo, headers = render_all(
        client, [(f"{site_url}/geo", {**options, "wait_for": GEO_WAIT}), (f"{site_url}/headers", options)]
    )
    for rendered in (geo, headers):
        assert rendered.result.selected_city == {
            "name": city["name"],
            "displayName": city["display_name"],
            "latitude": city["latitude"],
            "longitude": city["longitude"],
            "timezoneId": city["timezone"],
        }

    assert element(geo.html, "geo-error") is None
    assert text_of(geo.html, "tz") == city["timezone"]
    assert text_of(geo.html, "lang") == city["locale"]
    assert float(text_of(geo.html, "lat")) == pytest.approx(city["latitude"], abs=1e-6)
    assert float(text_of(geo.html, "lon")) == pytest.approx(city["longitude"], abs=1e-6)
    assert text_of(headers.html, "accept-language") == city["accept_language"]


def _wire_city(name: str) -> dict[str, Any]:
    city = catalogue_city(name)
    return {
        "name": city["name"],
        "displayName": city["display_name"],
        "latitude": city["latitude"],
        "longitude": city["longitude"],
        "timezoneId": city["timezone"],
    }


def test_a_render_without_a_place_reports_and_uses_its_node_place(
    harness: FleetHarness, client: Browser7, site_url: str
) -> None:
    """The contract: ``selectedCity`` is on every completed render. Without ``countryCode``/``city``
    it is the node's own place (``node_country``/``node_city``), emulated like a requested one; a
    node with no place says the documented default, New York."""
    plain = render_one(client, f"{site_url}/geo", wait_for=GEO_WAIT)
    assert plain.result.selected_city == _wire_city("new.york")
    assert plain.wire["geoExit"] is None  # no place was asked for: no exit proxy either
    assert text_of(plain.html, "tz") == "America/New_York"

    located = harness.server(node_country="DE", node_city="Munich")
    try:
        with Browser7(api_key=harness.new_key(located), base_url=located.api) as sdk:
            rendered = render_one(sdk, f"{site_url}/geo", wait_for=GEO_WAIT)
    finally:
        harness.stop_server(located)
    assert rendered.result.selected_city == _wire_city("munich")
    assert text_of(rendered.html, "tz") == catalogue_city("munich")["timezone"]
    assert text_of(rendered.html, "lang") == catalogue_city("munich")["locale"]


def test_geo_catalogue_expectations_are_real_places() -> None:
    """The catalogue entries the geo tests rely on (guards against a catalogue echoing nonsense)."""
    assert sorted(catalogue_data()["countries"]) == sorted(
        ["AT", "BE", "CA", "CH", "CZ", "DE", "FR", "GB", "HR", "HU", "IT", "NL", "PL", "SK", "US"]
    )
    assert catalogue_city("new.york")["timezone"] == "America/New_York"
    assert catalogue_city("london")["timezone"] == "Europe/London"
    assert catalogue_data()["countries"]["DE"]["default"] == "berlin"
    assert catalogue_city("berlin")["timezone"] == "Europe/Berlin"
    assert not [c for c in catalogue_data()["cities"] if c["name"] == "tokyo"]


def test_city_outside_the_catalogue_is_rejected_before_rendering(client: Browser7, site_url: str) -> None:
    before = client.get_account_balance().total_balance_cents
    with pytest.raises(ValidationError) as caught:
        client.create_render(f"{site_url}/geo", city="tokyo")
    assert caught.value.status_code == 400
    assert "tokyo" in str(caught.value).lower()
    assert client.get_account_balance().total_balance_cents == before


# --------------------------------------------------------------------------- 6. blockImages


def test_block_images_default_and_disabled(client: Browser7, site_url: str) -> None:
    blocked_token, loaded_token = uuid.uuid4().hex, uuid.uuid4().hex
    blocked, loaded = render_all(
        client,
        [
            (f"{site_url}/images?t={blocked_token}", {}),
            (f"{site_url}/images?t={loaded_token}", {"block_images": False}),
        ],
    )
    for rendered in (blocked, loaded):
        assert len(re.findall(r'<img class="pixel"', rendered.html)) == 5
    hits = {
        token: httpx.get(f"{site_url}/hits", params={"t": token}).json()
        for token in (blocked_token, loaded_token)
    }
    assert hits[blocked_token] == {"t": blocked_token, "images": 0}
    assert hits[loaded_token] == {"t": loaded_token, "images": 5}


# ------------------------------------------------- 7 + 12. bandwidth metrics, retrieval speed


def test_bandwidth_metrics_and_fast_retrieval_of_a_big_render(
    client: Browser7, rserver: RunningServer, key: str, site_url: str
) -> None:
    page_url = f"{site_url}/big?kb=300"
    page_size = len(httpx.get(page_url).content)
    assert page_size >= 300 * 1024

    big, small = render_all(client, [(page_url, {}), (f"{site_url}/api/text", {})])
    metrics = big.result.bandwidth_metrics
    assert metrics is not None
    assert set(metrics) == {"networkBytes", "cachedBytes", "cacheHitRate"}
    assert metrics["networkBytes"] >= page_size
    assert isinstance(metrics["cachedBytes"], int) and metrics["cachedBytes"] >= 0
    assert re.fullmatch(r"\d{1,3}\.\d%", metrics["cacheHitRate"])
    small_metrics = small.result.bandwidth_metrics
    assert small_metrics is not None
    assert 0 < small_metrics["networkBytes"] < 100 * 1024

    assert len(big.html) >= 300 * 1024
    assert 'data-kb="300"' in big.html

    # Retrieval of the completed render: the contract promises < 50 ms.
    url = f"{rserver.api}/renders/{big.render_id}"
    durations = []
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as http:
        http.get(url).raise_for_status()  # warm the connection
        for _ in range(10):
            start = time.perf_counter()
            response = http.get(url)
            durations.append(time.perf_counter() - start)
            assert response.status_code == 200
            assert response.json()["html"] == big.wire["html"]
    assert statistics.median(durations) < 0.050, durations


# --------------------------------------------------------------------------- 8. timingBreakdown


def test_timing_breakdown_adds_up(client: Browser7, site_url: str) -> None:
    rendered = render_one(
        client,
        f"{site_url}/captcha/turnstile",
        captcha="auto",
        wait_for=[wait_for_delay(300)],
        include_screenshot=True,
    )
    timing = assert_timing(rendered)
    assert timing["waitActionsMs"] >= 300
    assert timing["screenshotMs"] > 0
    assert timing["navigationMs"] > 0
    assert timing["totalMs"] >= 300 + timing["screenshotMs"]


# --------------------------------------------------------------------------------- 9. captcha


def test_captcha_detection(client: Browser7, site_url: str) -> None:
    cases = [
        ("/captcha/recaptcha-v2", "auto", "recaptcha_v2", RECAPTCHA_V2_SITEKEY),
        ("/captcha/recaptcha-v3", "auto", "recaptcha_v3", RECAPTCHA_V3_SITEKEY),
        ("/captcha/hcaptcha", "auto", "hcaptcha", HCAPTCHA_SITEKEY),
        ("/captcha/turnstile", "auto", "turnstile", TURNSTILE_SITEKEY),
        ("/captcha/iframe", "auto", "recaptcha_v2", RECAPTCHA_V2_SITEKEY),
        ("/captcha/none", "auto", None, None),
        ("/captcha/recaptcha-v2", None, None, None),  # captcha omitted = disabled
    ]
    results = render_all(
        client,
        [(f"{site_url}{path}", {} if mode is None else {"captcha": mode}) for path, mode, _, _ in cases],
    )
    for (path, mode, kind, sitekey), rendered in zip(cases, results, strict=True):
        info = rendered.result.captcha
        assert info is not None, path
        assert info["handled"] is False, path
        if kind is None:
            assert info["detected"] is False, (path, mode, info)
            assert "sitekey" not in info, (path, mode, info)
        else:
            assert info["detected"] is True, (path, info)
            assert info["sitekey"] == sitekey, (path, info)
            assert info["type"] == kind, (path, info)
        if mode is None:
            assert assert_timing(rendered)["captchaMs"] == 0


# --------------------------------------------------------------------------------- 10. billing


def _cents(balance_breakdown: dict[str, Any]) -> dict[str, int]:
    return {kind: balance_breakdown[kind]["cents"] for kind in ("free", "bonus", "paid")}


def test_billing_one_cent_per_render_free_first(
    harness: FleetHarness, server: RunningServer, site_url: str
) -> None:
    key = harness.new_key(server, free_cents=2)

    async def add_paid() -> None:
        project = await server.fleet.accounts.authenticate(key)
        await server.fleet.store.add_ledger_entry(project.id, "paid", 100, "test top-up")

    harness.run(add_paid())

    with Browser7(api_key=key, base_url=server.api) as sdk:
        balance = sdk.get_account_balance()
        assert balance.total_balance_cents == 102
        assert balance.total_balance_formatted == "$1.02"
        assert _cents(balance.breakdown) == {"free": 2, "bonus": 0, "paid": 100}
        assert balance.breakdown["free"]["formatted"] == "$0.02"

        seen = []
        for _ in range(3):
            rendered = render_one(sdk, f"{site_url}/")
            assert rendered.wire["billable"] is True
            assert rendered.wire["charged"] is True
            assert rendered.wire["chargedAmountCents"] == 1
            balance = sdk.get_account_balance()
            seen.append((balance.total_balance_cents, _cents(balance.breakdown)))

        assert seen == [
            (101, {"free": 1, "bonus": 0, "paid": 100}),
            (100, {"free": 0, "bonus": 0, "paid": 100}),
            (99, {"free": 0, "bonus": 0, "paid": 99}),
        ]
        assert balance.total_balance_formatted == "$0.99"
        assert balance.breakdown["free"]["formatted"] == "$0.00"
        assert balance.breakdown["paid"]["formatted"] == "$0.99"
        for kind in ("free", "bonus", "paid"):
            assert re.fullmatch(r"\$\d+\.\d{2}", balance.breakdown[kind]["formatted"])

        # reading a render back is free
        sdk.get_render(rendered.render_id)
        assert sdk.get_account_balance().total_balance_cents == 99


# ------------------------------------------------------------------------ 11. regions, ?wait=


def test_regions_public_and_via_sdk(client: Browser7, rserver: RunningServer) -> None:
    regions = client.get_regions().regions
    local = [r for r in regions if r.code == "local"]
    assert len(local) == 1 and local[0].status == "active"

    anonymous = httpx.get(f"{rserver.api}/regions")  # no key
    assert anonymous.status_code == 200
    wire = anonymous.json()["regions"]
    assert {"code": "local", "name": local[0].name, "status": "active"} in wire
    assert [r["code"] for r in wire] == [r.code for r in regions]


def test_get_with_wait_returns_the_final_result_in_one_call(
    client: Browser7, rserver: RunningServer, key: str, site_url: str
) -> None:
    render_id = client.create_render(f"{site_url}/slow?ms=1000")["renderId"]
    headers = {"Authorization": f"Bearer {key}"}
    start = time.monotonic()
    response = httpx.get(
        f"{rserver.api}/renders/{render_id}", params={"wait": 30}, headers=headers, timeout=45
    )
    elapsed = time.monotonic() - start
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert elapsed >= 0.9  # the server answered only once the 1 s page was rendered
    html = client.get_render(render_id).html
    assert html is not None and element(html, "slow-done") is not None
