"""Every error path of the Renders API, against a real server (and real Chromium where a render runs).

Pre-flight errors (400 401 402 429) create no render and cost nothing; 404 hides other projects'
renders; a render that fails is a 422 that is charged once when the failure is the user's.
The browser7 SDK is the client wherever it can make the call; httpx checks raw bodies and headers.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import httpx
import pytest
from browser7 import (
    AuthenticationError,
    Browser7,
    Browser7Error,
    InsufficientBalanceError,
    RateLimitError,
    RenderError,
    ValidationError,
    wait_for_click,
    wait_for_delay,
    wait_for_selector,
    wait_for_text,
)

from tests.support._ports import free_port
from tests.support.api_errors import (
    assert_envelope,
    detail_for,
    failed_render,
    total_renders,
)
from tests.support.e2e import RenderApi, wait_until
from tests.support.fleet import FleetHarness, RunningServer

URL_SCHEME_MESSAGE = "Invalid URL: must include protocol (http:// or https://)"
SLOW_MS = 3000

# SDK keyword for each wire field (the SDK builds the camelCase body from these)
SDK_NAMES = {
    "url": "url",
    "countryCode": "country_code",
    "city": "city",
    "waitFor": "wait_for",
    "captcha": "captcha",
    "fetchUrls": "fetch_urls",
    "includeScreenshot": "include_screenshot",
    "screenshotFormat": "screenshot_format",
    "screenshotQuality": "screenshot_quality",
}


def sdk(server: RunningServer, key: str) -> Browser7:
    return Browser7(api_key=key, base_url=server.api)


def delay(ms: int = 100) -> dict[str, Any]:
    return wait_for_delay(ms)


# ------------------------------------------------------------------------------------------ 400

# (id, body builder given the test site URL, glob the offending details field must match,
#  a fragment of that field's message)
VALIDATION_CASES: list[tuple[str, Any, str, str]] = [
    ("missing-url", lambda site: {"countryCode": "US"}, "url", "required"),
    ("url-without-scheme", lambda site: {"url": "example.com/page"}, "url", URL_SCHEME_MESSAGE),
    ("ftp-url", lambda site: {"url": "ftp://127.0.0.1/file.txt"}, "url", URL_SCHEME_MESSAGE),
    ("unsupported-country", lambda site: {"url": site, "countryCode": "JP"}, "countryCode", "JP"),
    ("unknown-city", lambda site: {"url": site, "city": "atlantis"}, "city", "Unknown city: atlantis"),
    (
        "city-in-other-country",
        lambda site: {"url": site, "countryCode": "DE", "city": "london"},
        "city",
        "not in country DE",
    ),
    ("eleven-wait-actions", lambda site: {"url": site, "waitFor": [delay()] * 11}, "waitFor", "10"),
    ("delay-50", lambda site: {"url": site, "waitFor": [delay(50)]}, "waitFor.0*duration", "100"),
    ("delay-60001", lambda site: {"url": site, "waitFor": [delay(60001)]}, "waitFor.0*duration", "60000"),
    (
        "selector-timeout-999",
        lambda site: {"url": site, "waitFor": [wait_for_selector("#x", timeout=999)]},
        "waitFor.0*timeout",
        "1000",
    ),
    (
        "selector-timeout-60001",
        lambda site: {"url": site, "waitFor": [wait_for_selector("#x", timeout=60001)]},
        "waitFor.0*timeout",
        "60000",
    ),
    (
        "selector-state-gone",
        lambda site: {"url": site, "waitFor": [wait_for_selector("#x", state="gone")]},
        "waitFor.0*state",
        "visible",
    ),
    (
        "unknown-wait-type",
        lambda site: {"url": site, "waitFor": [{"type": "scroll", "selector": "#x"}]},
        "waitFor.0",
        "scroll",
    ),
    (
        "text-wait-without-text",
        lambda site: {"url": site, "waitFor": [{"type": "text", "timeout": 5000}]},
        "waitFor.0*text",
        "required",
    ),
    ("captcha-foo", lambda site: {"url": site, "captcha": "foo"}, "captcha", "recaptcha_v2"),
    (
        "eleven-fetch-urls",
        lambda site: {"url": site, "fetchUrls": [f"{site}/api/text?i={i}" for i in range(11)]},
        "fetchUrls",
        "10",
    ),
    (
        "fetch-url-not-http",
        lambda site: {"url": site, "fetchUrls": [f"{site}/api/text", "file:///etc/passwd"]},
        "fetchUrls*",
        URL_SCHEME_MESSAGE,
    ),
    ("screenshot-quality-0", lambda site: {"url": site, "screenshotQuality": 0}, "screenshotQuality", "1"),
    (
        "screenshot-quality-101",
        lambda site: {"url": site, "screenshotQuality": 101},
        "screenshotQuality",
        "100",
    ),
    (
        "screenshot-format-gif",
        lambda site: {"url": site, "includeScreenshot": True, "screenshotFormat": "gif"},
        "screenshotFormat",
        "png",
    ),
]


@pytest.mark.parametrize(
    ("body_for", "field", "fragment"),
    [pytest.param(*case[1:], id=case[0]) for case in VALIDATION_CASES],
)
def test_invalid_render_request_is_400_naming_the_field(
    harness: FleetHarness,
    server: RunningServer,
    api_key: str,
    site_url: str,
    body_for: Any,
    field: str,
    fragment: str,
) -> None:
    body = body_for(f"{site_url}/structured")
    renders_before = total_renders(harness, server)
    with RenderApi(server.url, api_key) as api:
        balance_before = api.balance_cents()
        raw = assert_envelope(api.client.post("/renders", json=body), 400, "Bad Request")
        entry = detail_for(raw["details"], field)
        assert fragment in entry["message"], entry
        assert raw["message"], raw
        if "url" in body and set(body) <= set(SDK_NAMES):
            options = {SDK_NAMES[k]: v for k, v in body.items() if k != "url"}
            with sdk(server, api_key) as client, pytest.raises(ValidationError) as caught:
                client.create_render(body["url"], **options)
            assert caught.value.status_code == 400
            assert caught.value.details == raw["details"]
            assert raw["message"] in str(caught.value)
        assert api.balance_cents() == balance_before
    assert total_renders(harness, server) == renders_before


def test_url_without_scheme_message_is_the_documented_one(server: RunningServer, api_key: str) -> None:
    with sdk(server, api_key) as client, pytest.raises(ValidationError) as caught:
        client.create_render("www.example.com/products?page=2")
    assert caught.value.status_code == 400
    assert caught.value.body is not None
    assert URL_SCHEME_MESSAGE in caught.value.body["message"]
    assert URL_SCHEME_MESSAGE in str(caught.value)
    details = caught.value.details
    assert details is not None
    assert [d["field"] for d in details] == ["url"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b'{"url": "http://127.0.0.1/",', "application/json", id="malformed-json"),
        pytest.param(b'[{"url": "http://127.0.0.1/"}]', "application/json", id="json-array"),
        pytest.param(b'"http://127.0.0.1/"', "application/json", id="json-string"),
        pytest.param(b"url=http://127.0.0.1/", "application/x-www-form-urlencoded", id="form-body"),
        pytest.param(b"", "application/json", id="empty-body"),
    ],
)
def test_body_that_is_not_a_json_object_is_400(
    harness: FleetHarness, server: RunningServer, api_key: str, content: bytes, content_type: str
) -> None:
    renders_before = total_renders(harness, server)
    with RenderApi(server.url, api_key) as api:
        balance_before = api.balance_cents()
        response = api.client.post("/renders", content=content, headers={"Content-Type": content_type})
        body = assert_envelope(response, 400, "Bad Request")
        assert detail_for(body["details"], "body")
        assert api.balance_cents() == balance_before
    assert total_renders(harness, server) == renders_before


def test_malformed_json_says_so(server: RunningServer, api_key: str) -> None:
    with RenderApi(server.url, api_key) as api:
        response = api.client.post(
            "/renders", content=b'{"url": "http://127.0.0.1/"', headers={"Content-Type": "application/json"}
        )
    body = assert_envelope(response, 400, "Bad Request")
    assert body["message"] == "Invalid JSON body"
    assert body["details"] == [{"field": "body", "message": "JSON decode error"}]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"url": None}, id="url-null"),
        pytest.param({"url": 12345}, id="url-number"),
        pytest.param({"url": ["http://127.0.0.1/"]}, id="url-list"),
        pytest.param({"url": "http://"}, id="url-without-host"),
        pytest.param({"url": "http://[::1"}, id="url-broken-ipv6"),
        pytest.param({"url": "http://127.0.0.1/", "waitFor": "soon"}, id="waitFor-string"),
        pytest.param({"url": "http://127.0.0.1/", "waitFor": [None]}, id="waitFor-null-action"),
        pytest.param({"url": "http://127.0.0.1/", "waitFor": [{}]}, id="waitFor-empty-action"),
        pytest.param({"url": "http://127.0.0.1/", "screenshotQuality": "high"}, id="quality-string"),
        pytest.param({"url": "http://127.0.0.1/", "screenshotQuality": 10**40}, id="quality-huge"),
        pytest.param({"url": "http://127.0.0.1/", "countryCode": 49}, id="country-number"),
        pytest.param({"url": "http://127.0.0.1/", "fetchUrls": "http://127.0.0.1/"}, id="fetch-string"),
    ],
)
def test_odd_inputs_are_400_never_500(
    harness: FleetHarness, server: RunningServer, api_key: str, body: dict[str, Any]
) -> None:
    renders_before = total_renders(harness, server)
    with RenderApi(server.url, api_key) as api:
        response = api.client.post("/renders", json=body)
    payload = assert_envelope(response, 400, "Bad Request")
    assert payload["details"], payload
    assert total_renders(harness, server) == renders_before


@pytest.mark.parametrize("wait", ["abc", "-1", "61"])
def test_bad_wait_query_is_400_naming_wait(server: RunningServer, api_key: str, wait: str) -> None:
    with RenderApi(server.url, api_key) as api:
        response = api.client.get("/renders/ren_000000000000000000000000", params={"wait": wait})
    body = assert_envelope(response, 400, "Bad Request")
    assert detail_for(body["details"], "wait")


# ------------------------------------------------------------------------------------------ 401


def test_missing_key_is_401(harness: FleetHarness, server: RunningServer, site_url: str) -> None:
    renders_before = total_renders(harness, server)
    with httpx.Client(base_url=server.api) as http:
        create = http.post("/renders", json={"url": f"{site_url}/structured"})
        balance = http.get("/account/balance")
        get = http.get("/renders/ren_000000000000000000000000")
    for response in (create, balance, get):
        body = assert_envelope(response, 401, "Unauthorized")
        assert "API key" in body["message"]
    assert total_renders(harness, server) == renders_before


def test_authentication_comes_before_validation(server: RunningServer) -> None:
    """An anonymous caller learns nothing about the body rules: 401, not 400."""
    with httpx.Client(base_url=server.api) as http:
        response = http.post("/renders", json={"url": "no-scheme"})
    assert_envelope(response, 401, "Unauthorized")


def test_wrong_key_is_401_for_the_sdk(
    harness: FleetHarness, server: RunningServer, api_key: str, site_url: str
) -> None:
    renders_before = total_renders(harness, server)
    wrong = api_key[:-4] + ("AAAA" if not api_key.endswith("AAAA") else "BBBB")
    with sdk(server, wrong) as client:
        with pytest.raises(AuthenticationError) as on_create:
            client.create_render(f"{site_url}/structured")
        with pytest.raises(AuthenticationError) as on_balance:
            client.get_account_balance()
    for caught in (on_create, on_balance):
        assert caught.value.status_code == 401
        assert caught.value.body is not None
        assert caught.value.body["error"] == "Unauthorized"
        assert "invalid" in caught.value.body["message"]
    assert total_renders(harness, server) == renders_before


def test_basic_auth_is_401_even_with_a_valid_key(server: RunningServer, api_key: str) -> None:
    for credentials in (f"{api_key}:", f":{api_key}", api_key):
        basic = base64.b64encode(credentials.encode()).decode()
        with httpx.Client(base_url=server.api, headers={"Authorization": f"Basic {basic}"}) as http:
            assert_envelope(http.get("/account/balance"), 401, "Unauthorized")
    with httpx.Client(base_url=server.api, headers={"Authorization": f"Basic {api_key}"}) as http:
        assert_envelope(http.get("/account/balance"), 401, "Unauthorized")


def test_x_bb_api_key_header_is_accepted(harness: FleetHarness, server: RunningServer, api_key: str) -> None:
    other = harness.new_key(server, free_cents=1234)
    with httpx.Client(base_url=server.api, headers={"X-BB-API-Key": other}) as http:
        balance = http.get("/account/balance")
        missing = http.get("/renders/ren_000000000000000000000000")
        invalid = http.post("/renders", json={"url": "no-scheme"})
    assert balance.status_code == 200, balance.text
    assert balance.json()["totalBalanceCents"] == 1234  # the project of that key, not another one
    assert_envelope(missing, 404, "Not Found")  # authenticated, then not found
    assert_envelope(invalid, 400, "Bad Request")  # authenticated, then validated
    with httpx.Client(base_url=server.api, headers={"X-BB-API-Key": other + "x"}) as http:
        assert_envelope(http.get("/account/balance"), 401, "Unauthorized")


# ------------------------------------------------------------------------------------------ 402


def test_empty_balance_is_402(harness: FleetHarness, server: RunningServer, site_url: str) -> None:
    key = harness.new_key(server, free_cents=0)
    renders_before = total_renders(harness, server)
    with sdk(server, key) as client, pytest.raises(InsufficientBalanceError) as caught:
        client.create_render(f"{site_url}/structured")
    assert caught.value.status_code == 402
    with RenderApi(server.url, key) as api:
        raw = assert_envelope(api.client.post("/renders", json={"url": site_url}), 402, "Payment Required")
        assert "balance" in raw["message"].lower()
        assert api.balance_cents() == 0
    assert total_renders(harness, server) == renders_before


@pytest.mark.browser
def test_last_cent_is_reserved_by_the_render_in_flight(
    harness: FleetHarness, server: RunningServer, site_url: str
) -> None:
    key = harness.new_key(server, free_cents=1)
    renders_before = total_renders(harness, server)
    with sdk(server, key) as client, RenderApi(server.url, key) as api:
        first = client.create_render(f"{site_url}/slow?ms={SLOW_MS}")["renderId"]
        assert api.get(first).json() == {"status": "processing", "retryAfter": 1}
        with pytest.raises(InsufficientBalanceError) as while_running:
            client.create_render(f"{site_url}/structured")
        assert while_running.value.status_code == 402
        assert api.balance_cents() == 1  # reserved, not yet charged
        assert api.get(first).json()["status"] == "processing"  # the 402 came while it ran

        done = api.wait(first)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "completed"
        assert done.json()["chargedAmountCents"] == 1
        assert api.balance_cents() == 0
        with pytest.raises(InsufficientBalanceError):
            client.create_render(f"{site_url}/structured")
    assert total_renders(harness, server) == renders_before + 1


# ------------------------------------------------------------------------------------------ 404


def test_unknown_render_id_is_404(server: RunningServer, api_key: str) -> None:
    with RenderApi(server.url, api_key) as api:
        for render_id in ("ren_000000000000000000000000", "nope", "ren_' OR 1=1 --"):
            response = api.get(render_id)
            assert response.status_code == 404, response.text
            assert response.json() == {"error": "Not Found", "message": "Render not found"}
    with sdk(server, api_key) as client, pytest.raises(Browser7Error) as caught:
        client.get_render("ren_000000000000000000000000")
    assert caught.value.status_code == 404
    assert not isinstance(caught.value, RenderError)


@pytest.mark.browser
def test_another_projects_render_is_404_and_its_costs_stay_there(
    harness: FleetHarness, server: RunningServer, site_url: str
) -> None:
    owner_key, other_key = harness.new_key(server), harness.new_key(server)
    with RenderApi(server.url, owner_key) as owner, RenderApi(server.url, other_key) as other:
        owner_before, other_before = owner.balance_cents(), other.balance_cents()
        render_id = owner.create({"url": f"{site_url}/structured"})
        started = time.monotonic()
        hidden_while_running = other.get(render_id, wait=5)
        assert time.monotonic() - started < 4  # a 404 does not wait for someone else's render
        done = owner.wait(render_id)
        assert done.status_code == 200 and done.json()["status"] == "completed", done.text
        hidden_when_done = other.get(render_id)
        for response in (hidden_while_running, hidden_when_done):
            assert response.status_code == 404, response.text
            assert response.json() == {"error": "Not Found", "message": "Render not found"}
        assert owner.balance_cents() == owner_before - 1
        assert other.balance_cents() == other_before
    with sdk(server, other_key) as client, pytest.raises(Browser7Error) as caught:
        client.get_render(render_id)
    assert caught.value.status_code == 404


# ------------------------------------------------------------------------------------------ 422


def assert_charged_once(api: RenderApi, render_id: str, error_code: str, balance_before: int) -> None:
    """Reading a billable failed render again and again charges it exactly once."""
    bodies = [failed_render(api.get(render_id), error_code) for _ in range(4)]
    bodies.append(failed_render(api.get(render_id, wait=2), error_code))
    first = bodies[0]
    assert all(body == first for body in bodies), bodies
    assert (first["billable"], first["charged"], first["chargedAmountCents"]) == (True, True, 1)
    assert api.balance_cents() == balance_before - 1


@pytest.mark.browser
def test_selector_that_never_appears_is_wait_timeout(
    server: RunningServer, api_key: str, site_url: str
) -> None:
    with RenderApi(server.url, api_key) as api, sdk(server, api_key) as client:
        before = api.balance_cents()
        with pytest.raises(RenderError) as caught:  # the SDK's own render() + polling path
            client.render(
                f"{site_url}/structured", wait_for=[wait_for_selector("#never-there", timeout=1000)]
            )
        assert caught.value.status_code == 422
        assert caught.value.error_code == "WAIT_TIMEOUT"
        assert caught.value.billable is True
        render_id = caught.value.render_id
        assert render_id is not None and render_id.startswith("ren_")
        body = failed_render(api.get(render_id), "WAIT_TIMEOUT")
        assert "#never-there" in body["errorMessage"]
        assert_charged_once(api, render_id, "WAIT_TIMEOUT", before)
        with pytest.raises(RenderError) as again:
            client.get_render(render_id)
        assert (again.value.error_code, again.value.billable) == ("WAIT_TIMEOUT", True)
        assert api.balance_cents() == before - 1


@pytest.mark.browser
@pytest.mark.parametrize(
    "wait",
    [wait_for_click("0"), wait_for_selector("div["), wait_for_text("x", selector="##a")],
    ids=["click-0", "selector-unclosed", "text-in-double-hash"],
)
def test_a_selector_that_cannot_be_css_is_400_at_submit(
    harness: FleetHarness, server: RunningServer, api_key: str, site_url: str, wait: dict[str, Any]
) -> None:
    """``"0"`` is no CSS selector (Playwright and browsers refuse it): the caller's mistake is
    answered at once, naming the field, and nothing is queued or charged."""
    with RenderApi(server.url, api_key) as api, sdk(server, api_key) as client:
        before, renders = api.balance_cents(), total_renders(harness, server)
        with pytest.raises(ValidationError) as caught:
            client.create_render(f"{site_url}/click", wait_for=[wait])
        assert caught.value.status_code == 400
        message = str(caught.value)  # the field as waitFor.<i>.<type>.selector
        assert re.search(r"waitFor\.0\.[a-z]+\.selector: not a valid CSS selector: ", message), message
        assert (api.balance_cents(), total_renders(harness, server)) == (before, renders)
        # Playwright's own selectors are not CSS and pass: text=, >> chains, :has-text()
        fine = [
            wait_for_selector("text=Reveal >> nth=0", state="attached", timeout=1000),
            wait_for_selector("body:has-text('x') >> > div", state="attached", timeout=1000),
        ]
        render_id = client.create_render(f"{site_url}/click", wait_for=fine)["renderId"]
        assert render_id.startswith("ren_")
        assert api.wait(render_id).status_code in (200, 422)  # ran (found or timed out), not refused


@pytest.mark.browser
@pytest.mark.parametrize(
    "selector", ["div::after", ":is", "xpath=//div["], ids=["pseudo-element", "empty-is", "xpath"]
)
def test_a_selector_the_browser_refuses_fails_as_invalid_selector(
    server: RunningServer, api_key: str, site_url: str, selector: str
) -> None:
    """Selectors the submit check cannot judge (Playwright's and the browser's own rules) fail the
    render with the documented user error, not INTERNAL_ERROR."""
    with RenderApi(server.url, api_key) as api, sdk(server, api_key) as client:
        render_id = client.create_render(
            f"{site_url}/click", wait_for=[wait_for_click(selector, timeout=2000)]
        )["renderId"]
        body = failed_render(api.wait(render_id), "INVALID_SELECTOR")
        assert "invalid selector" in body["errorMessage"]
        assert body["billable"] is True


@pytest.mark.browser
def test_site_that_refuses_connections_is_navigation_failed(server: RunningServer, api_key: str) -> None:
    closed_port = free_port()  # nothing listens there (ports like 1 are refused by Chromium itself)
    url = f"http://127.0.0.1:{closed_port}/"
    with RenderApi(server.url, api_key) as api, sdk(server, api_key) as client:
        before = api.balance_cents()
        render_id = client.create_render(url)["renderId"]
        body = failed_render(api.wait(render_id), "NAVIGATION_FAILED")
        assert url in body["errorMessage"]
        assert "could not reach 127.0.0.1" in body["errorMessage"]
        assert "Connect call failed" in body["errorMessage"] or "refused" in body["errorMessage"]
        assert_charged_once(api, render_id, "NAVIGATION_FAILED", before)
        with pytest.raises(RenderError) as caught:
            client.get_render(render_id)
    assert caught.value.status_code == 422
    assert caught.value.error_code == "NAVIGATION_FAILED"
    assert caught.value.billable is True
    assert caught.value.render_id == render_id


@pytest.mark.browser
def test_render_past_the_project_timeout_is_render_timeout(
    harness: FleetHarness, server: RunningServer, site_url: str
) -> None:
    key = harness.new_key(server, timeout_s=2)
    with httpx.Client() as site:
        hanging_before = site.get(f"{site_url}/hang/active").json()["active"]
    with RenderApi(server.url, key) as api, sdk(server, key) as client:
        before = api.balance_cents()
        started = time.monotonic()
        render_id = client.create_render(f"{site_url}/hang")["renderId"]
        body = failed_render(api.wait(render_id, timeout=20), "RENDER_TIMEOUT")
        elapsed = time.monotonic() - started
        assert 1.9 <= elapsed < 20, elapsed  # the 2 s project timeout, not the 120 s cap
        assert "2 second" in body["errorMessage"]
        assert_charged_once(api, render_id, "RENDER_TIMEOUT", before)
    with httpx.Client() as site:  # the abandoned page's request to /hang was dropped
        wait_until(
            lambda: site.get(f"{site_url}/hang/active").json()["active"] <= hanging_before,
            timeout=10,
            what="the timed-out render to let go of /hang",
        )


# ------------------------------------------------------------------------------------------ 429


@pytest.mark.browser
def test_concurrency_limit_is_429_with_retry_headers(
    harness: FleetHarness, server: RunningServer, site_url: str
) -> None:
    key = harness.new_key(server, concurrency=2)
    slow = f"{site_url}/slow?ms={SLOW_MS}"
    renders_before = total_renders(harness, server)
    with RenderApi(server.url, key) as api, sdk(server, key) as client:
        balance_before = api.balance_cents()
        running = [client.create_render(slow)["renderId"] for _ in range(2)]
        with pytest.raises(RateLimitError) as caught:
            client.create_render(f"{site_url}/structured")
        raw = api.client.post("/renders", json={"url": f"{site_url}/structured"})
        assert all(api.get(r).json()["status"] == "processing" for r in running)

        assert caught.value.status_code == 429
        assert caught.value.concurrent_limit == 2
        body = assert_envelope(raw, 429, "Too Many Requests")
        assert "Concurrent render limit reached (2/2)" in body["message"]
        assert "Maximum allowed: 2" in body["message"]
        assert int(raw.headers["Retry-After"]) >= 1
        assert raw.headers["X-RateLimit-Limit"] == "2"
        assert raw.headers["X-RateLimit-Remaining"] == "0"
        assert raw.headers["x-should-retry"] == "true"
        assert total_renders(harness, server) == renders_before + 2

        for render_id in running:
            done = api.wait(render_id)
            assert done.status_code == 200 and done.json()["status"] == "completed", done.text
        again = api.create({"url": f"{site_url}/structured"})
        assert api.wait(again).json()["status"] == "completed"
        assert api.balance_cents() == balance_before - 3  # the refused ones cost nothing


# ------------------------------------------------------------------------------- routes, methods


@pytest.mark.parametrize(
    "path", ["/v1/nothing-here", "/v1/renders/ren_1/extra", "/v2/renders", "/", "/v1/balance"]
)
def test_unknown_route_is_404_envelope(server: RunningServer, api_key: str, path: str) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}) as http:
        response = http.get(path)
    assert_envelope(response, 404, "Not Found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/renders", "POST"),
        ("GET", "/v1/renders", "POST"),
        ("PUT", "/v1/renders/ren_000000000000000000000000", "GET"),
        ("DELETE", "/v1/renders/ren_000000000000000000000000", "GET"),
        ("POST", "/v1/account/balance", "GET"),
        ("PATCH", "/v1/regions", "GET"),
    ],
)
def test_wrong_method_is_405_envelope(
    server: RunningServer, api_key: str, method: str, path: str, allowed: str
) -> None:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {api_key}"}) as http:
        response = http.request(method, path, json={"url": "http://127.0.0.1/"})
    assert_envelope(response, 405, "Method Not Allowed")
    assert allowed in response.headers["Allow"]
