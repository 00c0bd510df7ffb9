"""The createTask/getTaskResult client against the solver stand-in (a real HTTP server on loopback),
and the ``solve_captcha`` step on a real page of the test site."""

from __future__ import annotations

import base64
import time
import uuid

import httpx
import pytest

from browserfleet.core import actions as a
from browserfleet.core.errors import ErrorCode, JobFailure
from browserfleet.node import captcha
from browserfleet.node.captcha import (
    CaptchaSolverError,
    CaptchaTask,
    CaptchaTimeout,
    CaptchaUnsolvable,
    CreateTaskSolver,
)
from browserfleet.node.egress import EgressPolicy, EgressProxy
from browserfleet.node.steps import StepRunner
from browserfleet.settings import Settings
from tests.site.app import PIXEL_PNG, RECAPTCHA_V2_SITEKEY, RECAPTCHA_V3_SITEKEY, TURNSTILE_SITEKEY
from tests.site.captcha import token_valid
from tests.support._ports import free_port
from tests.support.captcha_solver import SOLVER_KEY, SolverStandIn
from tests.support.fleet import TEST_SITE_ALLOW, FleetHarness

POLL_S = 0.05


def solver_for(stand_in: SolverStandIn, key: str = SOLVER_KEY, timeout_s: float = 2.0) -> CreateTaskSolver:
    return CreateTaskSolver(stand_in.url, key, timeout_s=timeout_s, poll_interval_s=POLL_S)


def calls(stand_in: SolverStandIn, path: str) -> int:
    return sum(1 for r in stand_in.requests if r.path == path)


# ------------------------------------------------------------------------------- the protocol


@pytest.mark.parametrize(
    ("kind", "task_type"),
    [
        ("recaptcha_v2", "RecaptchaV2TaskProxyless"),
        ("recaptcha_v3", "RecaptchaV3TaskProxyless"),
        ("hcaptcha", "HCaptchaTaskProxyless"),
        ("turnstile", "TurnstileTaskProxyless"),
    ],
)
async def test_each_kind_is_sent_as_its_task_type_and_yields_the_solvers_token(
    stand_in: SolverStandIn, kind: str, task_type: str
) -> None:
    sitekey = f"site-{uuid.uuid4().hex[:8]}"
    url = f"http://127.0.0.1:9/{kind}"
    token = await solver_for(stand_in).solve(CaptchaTask(kind, url, sitekey))
    assert token_valid(sitekey, token)
    assert not token_valid("another-sitekey", token)
    [task] = stand_in.created()
    assert task["type"] == task_type
    assert (task["websiteURL"], task["websiteKey"]) == (url, sitekey)
    if kind == "recaptcha_v3":
        assert task["minScore"] == 0.3 and task["pageAction"] == "verify"
    else:
        assert "minScore" not in task and "pageAction" not in task
    assert stand_in.keys_seen() == {SOLVER_KEY}


async def test_v3_action_and_score_are_passed_on(stand_in: SolverStandIn) -> None:
    task = CaptchaTask(
        "recaptcha_v3", "http://127.0.0.1:9/", RECAPTCHA_V3_SITEKEY, page_action="login", min_score=0.9
    )
    token = await solver_for(stand_in).solve(task)
    assert token_valid(RECAPTCHA_V3_SITEKEY, token)
    [sent] = stand_in.created()
    assert (sent["pageAction"], sent["minScore"]) == ("login", 0.9)


async def test_polls_until_ready_at_the_configured_interval(stand_in: SolverStandIn) -> None:
    stand_in.processing_polls = 4
    started = time.monotonic()
    token = await solver_for(stand_in).solve(
        CaptchaTask("recaptcha_v2", "http://127.0.0.1:9/", RECAPTCHA_V2_SITEKEY)
    )
    elapsed = time.monotonic() - started
    assert token_valid(RECAPTCHA_V2_SITEKEY, token)
    assert calls(stand_in, "/createTask") == 1
    assert calls(stand_in, "/getTaskResult") == 5  # 4 processing answers, then ready
    assert 5 * POLL_S <= elapsed < 2.0


@pytest.mark.parametrize(("kind", "field"), [("recaptcha_v2", "token"), ("turnstile", "gRecaptchaResponse")])
async def test_both_solution_fields_are_accepted(stand_in: SolverStandIn, kind: str, field: str) -> None:
    stand_in.token_field = field
    token = await solver_for(stand_in).solve(CaptchaTask(kind, "http://127.0.0.1:9/", TURNSTILE_SITEKEY))
    assert token_valid(TURNSTILE_SITEKEY, token)


async def test_unsolvable_is_its_own_billable_error(stand_in: SolverStandIn) -> None:
    stand_in.outcome = "unsolvable"
    with pytest.raises(CaptchaUnsolvable) as caught:
        await solver_for(stand_in).solve(CaptchaTask("hcaptcha", "http://127.0.0.1:9/", "k"))
    assert caught.value.code is ErrorCode.CAPTCHA_UNSOLVABLE and caught.value.code.billable
    assert "ERROR_CAPTCHA_UNSOLVABLE" in caught.value.message
    assert calls(stand_in, "/getTaskResult") == 2


async def test_a_solver_that_never_finishes_times_out(stand_in: SolverStandIn) -> None:
    stand_in.outcome = "never"
    started = time.monotonic()
    with pytest.raises(CaptchaTimeout) as caught:
        await solver_for(stand_in, timeout_s=0.6).solve(CaptchaTask("turnstile", "http://127.0.0.1:9/", "k"))
    elapsed = time.monotonic() - started
    assert 0.6 <= elapsed < 1.5
    assert caught.value.code is ErrorCode.CAPTCHA_TIMEOUT and not caught.value.code.billable
    assert "0.6s" in caught.value.message
    assert calls(stand_in, "/getTaskResult") >= 5  # it kept polling until the deadline


async def test_a_shorter_per_call_timeout_wins(stand_in: SolverStandIn) -> None:
    stand_in.outcome = "never"
    started = time.monotonic()
    with pytest.raises(CaptchaTimeout):
        await solver_for(stand_in, timeout_s=30).solve(
            CaptchaTask("turnstile", "http://x/", "k"), timeout_s=0.3
        )
    assert time.monotonic() - started < 1.0


async def test_a_wrong_key_is_a_solver_error_that_does_not_leak_the_key(stand_in: SolverStandIn) -> None:
    secret = f"wrong-{uuid.uuid4().hex}"
    solver = solver_for(stand_in, key=secret)
    with pytest.raises(CaptchaSolverError) as caught:
        await solver.solve(CaptchaTask("recaptcha_v2", "http://127.0.0.1:9/", "k"))
    assert caught.value.code is ErrorCode.CAPTCHA_SOLVER_ERROR and not caught.value.code.billable
    assert "ERROR_KEY_DOES_NOT_EXIST" in caught.value.message
    assert secret not in caught.value.message and secret not in repr(solver)
    assert stand_in.keys_seen() == {secret}  # it was sent, once, to the solver only
    assert calls(stand_in, "/createTask") == 1 and stand_in.created() == []


async def test_an_unreachable_solver_is_a_solver_error() -> None:
    solver = CreateTaskSolver(
        f"http://127.0.0.1:{free_port()}", SOLVER_KEY, timeout_s=2, poll_interval_s=POLL_S
    )
    with pytest.raises(CaptchaSolverError, match="unreachable"):
        await solver.solve(CaptchaTask("recaptcha_v2", "http://127.0.0.1:9/", "k"))


async def test_the_stand_in_speaks_plain_http_json(stand_in: SolverStandIn) -> None:
    """The wire itself (what any provider's client would send), without our client."""
    async with httpx.AsyncClient(base_url=stand_in.url) as http:
        task = {"type": "TurnstileTaskProxyless", "websiteURL": "http://127.0.0.1:9/", "websiteKey": "k"}
        created = (await http.post("/createTask", json={"clientKey": SOLVER_KEY, "task": task})).json()
        assert created["errorId"] == 0
        first = (
            await http.post("/getTaskResult", json={"clientKey": SOLVER_KEY, "taskId": created["taskId"]})
        ).json()
        assert first == {"errorId": 0, "status": "processing"}
        ready = (
            await http.post("/getTaskResult", json={"clientKey": SOLVER_KEY, "taskId": created["taskId"]})
        ).json()
        assert ready["status"] == "ready" and token_valid("k", ready["solution"]["token"])
        missing = (await http.post("/getTaskResult", json={"clientKey": SOLVER_KEY, "taskId": 1})).json()
        assert missing["errorCode"] == "ERROR_NO_SUCH_CAPCHA_ID"


def test_solver_from_settings() -> None:
    assert captcha.build_solver(Settings()) is None
    built = captcha.build_solver(
        Settings(
            captcha_solver_url="http://127.0.0.1:9/api/",
            captcha_solver_key="k-123",
            captcha_timeout_s=7,
            captcha_poll_interval_s=0.5,
        )
    )
    assert isinstance(built, CreateTaskSolver)
    assert (built.base_url, built.timeout_s, built.poll_interval_s) == ("http://127.0.0.1:9/api", 7, 0.5)
    assert "k-123" not in repr(built)


# --------------------------------------------------------------------- the solve_captcha step


def verified(site_url: str, tag: str) -> dict[str, int]:
    counts: dict[str, int] = httpx.get(f"{site_url}/captcha/verified", params={"t": tag}).json()
    return counts


async def _solve_on_page(
    harness: FleetHarness, url: str, solver: captcha.CaptchaSolver | None, kind: str, then: list[a.Action]
) -> tuple[object, str]:
    assert harness.pool is not None
    # the page reaches the test site through an egress channel, as a job's does (a contained
    # pooled browser has no other way out: node/sandbox/)
    egress = EgressProxy(EgressPolicy.from_strings(False, TEST_SITE_ALLOW))
    channel = await egress.open_channel("captcha-test")
    try:
        async with harness.pool.context(egress=channel, proxy={"server": channel.server_url}) as context:
            page = await context.new_page()
            await page.goto(url)
            runner = StepRunner(page, captcha_solver=solver)
            report = await runner.run(a.SolveCaptcha(kind=kind))
            for action in then:
                await runner.run(action)
            return report, await page.content()
    finally:
        await egress.close()


@pytest.mark.browser
@pytest.mark.parametrize(
    ("path", "kind", "sitekey", "then"),
    [
        ("/captcha/recaptcha-v2", "auto", RECAPTCHA_V2_SITEKEY, []),
        ("/captcha/turnstile", "turnstile", TURNSTILE_SITEKEY, []),
        # v3: no widget, no field: the token reaches the page through grecaptcha.execute on submit
        ("/captcha/recaptcha-v3", "recaptcha_v3", RECAPTCHA_V3_SITEKEY, [a.Click(selector="#submit")]),
    ],
)
def test_solve_captcha_step_injects_a_token_the_site_accepts(
    harness: FleetHarness,
    stand_in: SolverStandIn,
    site_url: str,
    path: str,
    kind: str,
    sitekey: str,
    then: list[a.Action],
) -> None:
    tag = uuid.uuid4().hex
    wait = a.WaitForText(text="ok", selector="#verified", timeout_ms=5000)
    report, html = harness.run(
        _solve_on_page(harness, f"{site_url}{path}?t={tag}", solver_for(stand_in), kind, [*then, wait])
    )
    assert report == {
        "detected": True,
        "handled": True,
        "sitekey": sitekey,
        "type": kind if kind != "auto" else "recaptcha_v2",
    }
    [task] = stand_in.created()
    assert task["websiteKey"] == sitekey and task["websiteURL"] == f"{site_url}{path}?t={tag}"
    assert verified(site_url, tag) == {"t": tag, "verified": 1, "rejected": 0}
    assert "bfsolve." in html  # the response field carries the token in the page itself


@pytest.mark.browser
def test_solve_captcha_step_for_another_type_solves_nothing(
    harness: FleetHarness, stand_in: SolverStandIn, site_url: str
) -> None:
    report, html = harness.run(
        _solve_on_page(harness, f"{site_url}/captcha/hcaptcha", solver_for(stand_in), "turnstile", [])
    )
    assert report == {
        "detected": True,
        "handled": False,
        "sitekey": "10000000-ffff-ffff-ffff-000000000001",
        "type": "hcaptcha",
    }
    assert stand_in.requests == []
    assert "bfsolve." not in html


@pytest.mark.browser
def test_solve_captcha_step_without_a_solver_fails_with_solver_error(
    harness: FleetHarness, site_url: str
) -> None:
    with pytest.raises(JobFailure) as caught:
        harness.run(_solve_on_page(harness, f"{site_url}/captcha/turnstile", None, "auto", []))
    assert caught.value.code is ErrorCode.CAPTCHA_SOLVER_ERROR
    assert caught.value.message == "no captcha solver is configured"


# ------------------------------------------------------------------------------- image captchas

PNG_BODY = PIXEL_PNG  # any image file; the stand-in checks it is one


@pytest.mark.parametrize("at_once", [False, True], ids=["polled", "answered-at-once"])
async def test_an_image_is_sent_as_image_to_text_task_and_its_text_returned(
    stand_in: SolverStandIn, at_once: bool
) -> None:
    stand_in.image_answer = answer = uuid.uuid4().hex[:6]
    stand_in.image_at_once = at_once  # CapSolver answers ImageToTextTask in the createTask reply
    text = await solver_for(stand_in).solve_image(PNG_BODY, website_url="http://127.0.0.1:9/login")
    assert text == answer
    (task,) = stand_in.created()
    assert task == {
        "type": "ImageToTextTask",
        "body": base64.b64encode(PNG_BODY).decode(),  # clean base64, no data: prefix
        "websiteURL": "http://127.0.0.1:9/login",
    }
    assert calls(stand_in, "/getTaskResult") == (0 if at_once else 2)


async def test_image_errors_are_translated_like_token_errors(stand_in: SolverStandIn) -> None:
    with pytest.raises(CaptchaUnsolvable):  # no worker could read it
        await solver_for(stand_in).solve_image(PNG_BODY)
    with pytest.raises(CaptchaSolverError, match="ERROR_IMAGE_TYPE_NOT_SUPPORTED"):
        await solver_for(stand_in).solve_image(b"not an image")
    stand_in.outcome = "never"
    with pytest.raises(CaptchaTimeout):
        await solver_for(stand_in, timeout_s=0.3).solve_image(PNG_BODY)
