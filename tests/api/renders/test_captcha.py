"""Captcha detection and solving in renders, through the official browser7 SDK.

A real server configured with the solver stand-in (tests/support/captcha_solver.py, a
createTask/getTaskResult service on loopback) renders the test site's widget pages. Those pages
verify on the server side (``POST /captcha/verify``) that the token in their form was made by the
solver, show the answer in ``#verified`` and count it per tag ``t`` (``GET /captcha/verified``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from browser7 import Browser7, RenderError, wait_for_click, wait_for_text

from tests.site.app import (
    HCAPTCHA_SITEKEY,
    RECAPTCHA_V2_SITEKEY,
    RECAPTCHA_V3_SITEKEY,
    TURNSTILE_SITEKEY,
)
from tests.site.captcha import token_valid
from tests.support.api_errors import failed_render
from tests.support.captcha_solver import SOLVER_KEY, SolverStandIn
from tests.support.e2e import RenderApi
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.render_client import Rendered, element, render_all, render_one

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("captcha")]

TIMEOUT_S = 2.0
POLL_S = 0.05
VERIFIED_OK = wait_for_text("ok", selector="#verified", timeout=10_000)


@pytest.fixture(scope="module")
def rserver(harness: FleetHarness, solver_stand_in_server: SolverStandIn) -> RunningServer:
    """A server with the solver stand-in: ``client`` and ``key`` render here."""
    return harness.server(
        captcha_solver_url=solver_stand_in_server.url,
        captcha_solver_key=SOLVER_KEY,
        captcha_poll_interval_s=POLL_S,
        captcha_timeout_s=TIMEOUT_S,
    )


def tagged(site_url: str, path: str) -> tuple[str, str]:
    tag = uuid.uuid4().hex
    return f"{site_url}{path}?t={tag}", tag


def site_counts(site_url: str, tag: str) -> dict[str, int]:
    body = httpx.get(f"{site_url}/captcha/verified", params={"t": tag}).json()
    return {"verified": body["verified"], "rejected": body["rejected"]}


def text_of(rendered: Rendered, element_id: str) -> str:
    found = element(rendered.html, element_id)
    assert found is not None, f"#{element_id} missing from {rendered.render_id}"
    return found.text


# ------------------------------------------------------------------------------- solving


def test_each_kind_is_solved_and_passes_the_sites_server_side_check(
    client: Browser7, stand_in: SolverStandIn, site_url: str
) -> None:
    stand_in.processing_polls = 2
    cases = [  # path, kind, sitekey, waitFor, fires a data-callback
        ("/captcha/recaptcha-v2", "recaptcha_v2", RECAPTCHA_V2_SITEKEY, [VERIFIED_OK], True),
        (
            "/captcha/recaptcha-v3",
            "recaptcha_v3",
            RECAPTCHA_V3_SITEKEY,
            [wait_for_click("#submit"), VERIFIED_OK],
            False,
        ),
        ("/captcha/hcaptcha", "hcaptcha", HCAPTCHA_SITEKEY, [VERIFIED_OK], True),
        ("/captcha/turnstile", "turnstile", TURNSTILE_SITEKEY, [VERIFIED_OK], True),
        ("/captcha/iframe", "recaptcha_v2", RECAPTCHA_V2_SITEKEY, [VERIFIED_OK], True),  # widget in a frame
    ]
    urls = [tagged(site_url, path) for path, *_ in cases]
    results = render_all(
        client,
        [
            (url, {"captcha": "auto", "wait_for": waits})
            for (url, _), (*_, waits, _) in zip(urls, cases, strict=True)
        ],
    )

    sent = {(t["websiteURL"], t["websiteKey"]) for t in stand_in.created()}
    for (path, kind, sitekey, _, callback), (url, tag), rendered in zip(cases, urls, results, strict=True):
        assert rendered.result.captcha == {
            "detected": True,
            "handled": True,
            "sitekey": sitekey,
            "type": kind,
        }, path
        assert text_of(rendered, "verified") == "ok", path
        assert site_counts(site_url, tag) == {"verified": 1, "rejected": 0}, path
        if callback:
            assert text_of(rendered, "callback-called") == "yes", path
        # the task named the page (or frame) that carries the widget
        page_url = f"{site_url}/captcha/recaptcha-v2" if path == "/captcha/iframe" else url
        assert (page_url, sitekey) in sent, (path, sent)
        # detection + 2 "processing" polls + the ready one happened inside the captcha phase
        assert rendered.result.timing_breakdown["captchaMs"] >= 3 * POLL_S * 1000, path
        assert (rendered.wire["billable"], rendered.wire["charged"], rendered.wire["chargedAmountCents"]) == (
            True,
            True,
            1,
        )
    assert len(stand_in.created()) == len(cases)
    assert stand_in.keys_seen() == {SOLVER_KEY}


def test_sdk_render_reports_a_handled_captcha(
    client: Browser7, stand_in: SolverStandIn, site_url: str
) -> None:
    url, tag = tagged(site_url, "/captcha/turnstile")
    result = client.render(url, captcha="turnstile", wait_for=[VERIFIED_OK])
    assert result.status == "completed"
    assert result.captcha == {
        "detected": True,
        "handled": True,
        "sitekey": TURNSTILE_SITEKEY,
        "type": "turnstile",
    }
    assert result.html is not None and 'id="verified">ok<' in result.html
    [task] = stand_in.created()
    poll = next(r for r in stand_in.requests if r.path == "/getTaskResult")  # polled with our key
    assert poll.body["clientKey"] == SOLVER_KEY and poll.body["taskId"] in stand_in.tasks
    assert task["type"] == "TurnstileTaskProxyless"
    assert site_counts(site_url, tag) == {"verified": 1, "rejected": 0}


# ------------------------------------------------------------------------------- modes


def test_disabled_solves_nothing(client: Browser7, stand_in: SolverStandIn, site_url: str) -> None:
    rejected = wait_for_text("rejected", selector="#verified", timeout=10_000)
    jobs = [tagged(site_url, "/captcha/recaptcha-v2"), tagged(site_url, "/captcha/turnstile")]
    results = render_all(
        client,
        [
            (jobs[0][0], {"wait_for": [wait_for_click("#submit"), rejected]}),  # captcha omitted
            (jobs[1][0], {"captcha": "disabled", "wait_for": [wait_for_click("#submit"), rejected]}),
        ],
    )
    for (_, tag), rendered in zip(jobs, results, strict=True):
        assert rendered.result.captcha == {"detected": False, "handled": False}
        assert rendered.result.timing_breakdown["captchaMs"] == 0
        assert text_of(rendered, "callback-called") == "no"
        assert site_counts(site_url, tag) == {"verified": 0, "rejected": 1}  # the site saw the empty field
    assert stand_in.requests == []


def test_a_specific_mode_only_solves_that_type(
    client: Browser7, stand_in: SolverStandIn, site_url: str
) -> None:
    cases = [  # path, mode, reported type, sitekey, handled
        ("/captcha/turnstile", "recaptcha_v2", "turnstile", TURNSTILE_SITEKEY, False),
        ("/captcha/recaptcha-v2", "turnstile", "recaptcha_v2", RECAPTCHA_V2_SITEKEY, False),
        ("/captcha/hcaptcha", "recaptcha_v3", "hcaptcha", HCAPTCHA_SITEKEY, False),
        ("/captcha/recaptcha-v2", "recaptcha_v2", "recaptcha_v2", RECAPTCHA_V2_SITEKEY, True),
        ("/captcha/recaptcha-v3", "recaptcha_v3", "recaptcha_v3", RECAPTCHA_V3_SITEKEY, True),
        ("/captcha/turnstile", "turnstile", "turnstile", TURNSTILE_SITEKEY, True),
        ("/captcha/none", "auto", None, None, False),
    ]
    urls = [tagged(site_url, path) for path, *_ in cases]
    results = render_all(
        client, [(url, {"captcha": mode}) for (url, _), (_, mode, *_) in zip(urls, cases, strict=True)]
    )
    for (path, mode, kind, sitekey, handled), rendered in zip(cases, results, strict=True):
        expected: dict[str, Any] = {"detected": kind is not None, "handled": handled}
        if kind:
            expected |= {"sitekey": sitekey, "type": kind}
        assert rendered.result.captcha == expected, (path, mode)
        field = element(rendered.html, "g-recaptcha-response")
        if path == "/captcha/recaptcha-v2":
            assert field is not None
            assert token_valid(RECAPTCHA_V2_SITEKEY, field.text) is handled, (mode, field.text)
    solved = sorted(t["websiteKey"] for t in stand_in.created())
    assert solved == sorted([RECAPTCHA_V2_SITEKEY, RECAPTCHA_V3_SITEKEY, TURNSTILE_SITEKEY])


def test_without_a_solver_a_captcha_is_reported_not_handled(
    server: RunningServer, api_key: str, stand_in: SolverStandIn, site_url: str
) -> None:
    with Browser7(api_key=api_key, base_url=server.api) as plain:
        rendered = render_one(plain, f"{site_url}/captcha/hcaptcha", captcha="auto")
    assert rendered.result.captcha == {
        "detected": True,
        "handled": False,
        "sitekey": HCAPTCHA_SITEKEY,
        "type": "hcaptcha",
    }
    assert rendered.wire["status"] == "completed"
    assert stand_in.requests == []


# ------------------------------------------------------------------------------- failures


@dataclass
class Failed:
    render_id: str
    body: dict[str, Any]
    spent_cents: int
    seconds: float


def fail(server: RunningServer, key: str, url: str, error_code: str) -> Failed:
    """Render ``url`` with ``captcha: auto``; it must fail with ``error_code``."""
    with RenderApi(server.url, key) as api:
        before = api.balance_cents()
        started = time.monotonic()
        render_id = api.create({"url": url, "captcha": "auto"})
        body = failed_render(api.wait(render_id), error_code)
        return Failed(render_id, body, before - api.balance_cents(), time.monotonic() - started)


def test_solver_timeout_is_captcha_timeout_and_not_charged(
    rserver: RunningServer, key: str, stand_in: SolverStandIn, site_url: str
) -> None:
    stand_in.outcome = "never"
    url, tag = tagged(site_url, "/captcha/turnstile")
    failed = fail(rserver, key, url, "CAPTCHA_TIMEOUT")
    body = failed.body
    assert (body["billable"], body["charged"], body["chargedAmountCents"]) == (False, False, 0)
    assert failed.spent_cents == 0
    assert f"{TIMEOUT_S:g}s" in body["errorMessage"]
    assert failed.seconds >= TIMEOUT_S
    assert len(stand_in.created()) == 1
    assert sum(1 for r in stand_in.requests if r.path == "/getTaskResult") >= 10  # polled till the deadline
    assert site_counts(site_url, tag) == {"verified": 0, "rejected": 0}


def test_unsolvable_captcha_is_captcha_unsolvable_and_charged(
    rserver: RunningServer, key: str, stand_in: SolverStandIn, site_url: str
) -> None:
    stand_in.outcome = "unsolvable"
    url, _ = tagged(site_url, "/captcha/recaptcha-v2")
    failed = fail(rserver, key, url, "CAPTCHA_UNSOLVABLE")
    body = failed.body
    assert (body["billable"], body["charged"], body["chargedAmountCents"]) == (True, True, 1)
    assert failed.spent_cents == 1
    assert "ERROR_CAPTCHA_UNSOLVABLE" in body["errorMessage"]
    assert sum(1 for r in stand_in.requests if r.path == "/getTaskResult") == 2  # processing, then the error
    with Browser7(api_key=key, base_url=rserver.api) as sdk, pytest.raises(RenderError) as caught:
        sdk.get_render(failed.render_id)
    assert (caught.value.error_code, caught.value.billable) == ("CAPTCHA_UNSOLVABLE", True)


def test_wrong_solver_key_is_captcha_solver_error_and_never_leaks_the_key(
    harness: FleetHarness, stand_in: SolverStandIn, site_url: str
) -> None:
    wrong = f"wrong-{uuid.uuid4().hex}"
    misconfigured = harness.server(
        captcha_solver_url=stand_in.url,
        captcha_solver_key=wrong,
        captcha_poll_interval_s=POLL_S,
        captcha_timeout_s=TIMEOUT_S,
    )
    try:
        key = harness.new_key(misconfigured)
        failed = fail(misconfigured, key, f"{site_url}/captcha/turnstile", "CAPTCHA_SOLVER_ERROR")
    finally:
        harness.stop_server(misconfigured)
    body = failed.body
    assert (body["billable"], body["charged"], failed.spent_cents) == (False, False, 0)
    assert "ERROR_KEY_DOES_NOT_EXIST" in body["errorMessage"]
    assert wrong not in body["errorMessage"]
    assert stand_in.keys_seen() == {wrong} and stand_in.created() == []


def test_a_slow_solver_ends_as_captcha_timeout_before_the_render_timeout(
    harness: FleetHarness, stand_in: SolverStandIn, site_url: str
) -> None:
    """The solver gets what is left of the project's render timeout (minus time to finish), so a
    slow solver is the non-billable CAPTCHA_TIMEOUT, not the billable RENDER_TIMEOUT."""
    stand_in.outcome = "never"
    patient = harness.server(
        captcha_solver_url=stand_in.url,
        captcha_solver_key=SOLVER_KEY,
        captcha_poll_interval_s=POLL_S,
        captcha_timeout_s=60,
    )
    try:
        key = harness.new_key(patient, timeout_s=8)
        failed = fail(patient, key, f"{site_url}/captcha/turnstile", "CAPTCHA_TIMEOUT")
    finally:
        harness.stop_server(patient)
    assert (failed.body["billable"], failed.spent_cents) == (False, 0)
    assert 1.0 <= failed.seconds < 8.0
