"""Browsing in the console: a task submitted from the form reaches ``completed`` on screen, with
its step screenshots as a gallery and its payload."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.console.conftest import poll, sign_in
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLM_KEY, LLMStandIn, call

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browsing")]


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMStandIn]:
    with LLMStandIn() as server:
        yield server


@pytest.fixture(scope="module")
def bserver(harness: FleetHarness, llm: LLMStandIn) -> Iterator[RunningServer]:
    running = harness.server(llm_base_url=llm.url, llm_api_key=LLM_KEY, llm_model="scripted")
    yield running
    harness.stop_server(running)


def test_a_task_from_the_console_completes_on_screen_with_screenshots(
    page: Page, harness: FleetHarness, bserver: RunningServer, llm: LLMStandIn, site_url: str
) -> None:
    sign_in(page, bserver, harness.new_key(bserver))
    llm.play(
        [
            call("navigate", url=f"{site_url}/shop"),
            call("done", success=True, result="Not signed in <b>yet</b>"),
        ]
    )
    page.goto(f"{bserver.url}/console/browsing")
    page.fill("#task", "Am I signed in at the <shop>?")
    page.select_option("#screenshot_mode", "every_step")
    page.click("#submit-task")
    page.wait_for_url("**/console/browsing/brw_*")
    assert page.locator("#task-text").inner_text() == "Am I signed in at the <shop>?"
    poll(page, "() => document.querySelector('#task-status .state').textContent === 'completed'", timeout=60)
    assert "Not signed in <b>yet</b>" in page.locator("#payload").inner_text()
    images = page.locator("#screenshots img")
    assert images.count() >= 1
    poll(
        page,
        "() => [...document.querySelectorAll('#screenshots img')]"
        ".every(i => i.complete && i.naturalWidth > 0)",
    )
    page.goto(f"{bserver.url}/console/browsing")
    assert page.locator("#browsing-tasks tbody tr", has_text="Am I signed in at the <shop>?").count() == 1


def test_the_form_shows_the_apis_refusal(page: Page, harness: FleetHarness, bserver: RunningServer) -> None:
    sign_in(page, bserver, harness.new_key(bserver))
    page.goto(f"{bserver.url}/console/browsing")
    page.fill("#task", "anything")
    page.fill("#country_iso", "DE")
    page.fill("#node_uid", "some-node")
    page.click("#submit-task")
    assert "mutually exclusive" in page.locator("#form-error").inner_text()
