"""Automations in the console: a task built in the step editor runs, and its run's page shows the
outputs, the screenshot and the video; the editor refuses what the API refuses, with its message."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.console.conftest import api, poll
from tests.support.fleet import RunningServer

pytestmark = [pytest.mark.browser]


def _add_step(page: Page, action: str) -> None:
    page.select_option("#add-action", action)
    page.click("#add-step")


@pytest.mark.timeout(300)  # a browser, a recording and a video encoded on a loaded machine
def test_a_task_built_in_the_editor_runs_with_outputs_and_video(
    signed_in: Page, cserver: RunningServer, site_url: str
) -> None:
    page = signed_in
    page.goto(f"{cserver.url}/console/tasks/new")
    page.fill("#name", "Products <script>")
    _add_step(page, "save_text")
    _add_step(page, "go")
    _add_step(page, "take_screenshot")
    page.locator(".step[data-action=go] .move-up").click()  # go first, then save_text
    assert page.locator(".step").nth(0).get_attribute("data-action") == "go"
    page.fill("#s0-url", f"{site_url}/js-content")
    page.fill("#s1-selector", "li.product")
    page.locator("#s1-all").check()
    page.locator(".step[data-action=take_screenshot] .remove").click()
    _add_step(page, "take_screenshot")
    poll(page, "() => document.getElementById('check').getAttribute('data-ok') === '1'")
    page.click("#save-task")
    page.wait_for_url("**/console/tasks/*")
    assert page.locator("h1").inner_text().startswith("Task Products <script>")
    assert page.locator(".step").count() == 3
    page.click("#run-now")
    page.wait_for_url("**/runs/run_*")
    poll(page, "() => document.querySelector('.state-completed') !== null", timeout=90)
    outputs = page.locator("#outputs").inner_text()
    assert "Product 1" in outputs and "Product 20" in outputs
    poll(
        page,
        "() => [...document.querySelectorAll('img.output-image')]"
        ".some(i => i.complete && i.naturalWidth > 0)",
    )
    poll(
        page,
        """() => { const v = document.getElementById('run-video'); v.play();
                   return v.readyState >= 2 && v.videoWidth > 0 && v.currentTime > 0 }""",
        timeout=30,
    )


def test_the_editor_refuses_a_step_the_api_refuses_with_the_same_message(
    signed_in: Page, cserver: RunningServer, key: str, site_url: str
) -> None:
    steps = [{"uid": "first", "action": "go", "config": {"url": f"{site_url}/js-content"}}]
    with api(cserver, key) as client:
        task = client.post("/v1/tasks", json={"name": "refusals", "steps": steps}).json()
        bad = [{"uid": "first", "action": "go", "config": {"url": "ftp://example.com/file", "timeout": 1000}}]
        refused = client.patch(f"/v1/tasks/{task['uid']}", json={"steps": bad})
        assert refused.status_code == 400
        message = refused.json()["message"]
    page = signed_in
    page.goto(f"{cserver.url}/console/tasks/{task['uid']}")
    page.fill("#s0-url", "ftp://example.com/file")
    page.fill("#s0-timeout", "1000")
    page.locator("#s0-timeout").dispatch_event("change")
    poll(page, "() => document.getElementById('check').getAttribute('data-ok') === '0'")
    assert page.locator("#check").inner_text() == message  # while editing
    page.click("#save-task")
    assert page.locator("#form-error").inner_text() == message  # and on save: nothing saved
    with api(cserver, key) as client:
        assert client.get(f"/v1/tasks/{task['uid']}").json()["steps"] == steps
