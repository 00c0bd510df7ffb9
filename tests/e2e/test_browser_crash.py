"""Chromium killed (SIGKILL) in the middle of a render: the render never hangs in ``processing``,
it is retried on a fresh browser (or failed as a non-billable BROWSER_CRASHED when no attempt
is left), and the shared pool replaces the dead browser for later renders.

The pool is shared by every server of this worker, so the module runs in its own xdist group.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from browserfleet.core.jobs import JobState
from browserfleet.node.pool import PooledBrowser
from browserfleet.store.records import JobRecord
from tests.support.e2e import RenderApi, decode_html, wait_until
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("crash")]

SLOW_BODY_DELAY_MS = 3000


def _job(harness: FleetHarness, server: RunningServer, render_id: str) -> JobRecord:
    job = harness.run(server.fleet.store.get_job(render_id))
    assert job is not None
    return job


def _kill_browser_under(harness: FleetHarness, server: RunningServer, render_id: str) -> int:
    """Wait until the render runs inside a browser context, then SIGKILL that browser."""
    wait_until(lambda: _job(harness, server, render_id).state is JobState.RUNNING, 20, what="render running")

    def busy_browser() -> PooledBrowser | None:
        return next((b for b in harness.pool.browsers if b.contexts > 0 and b.alive), None)

    pooled: PooledBrowser = wait_until(busy_browser, 10, what="a browser context for the render")
    time.sleep(0.3)  # well inside the 3 s waitFor delay
    assert _job(harness, server, render_id).state is JobState.RUNNING
    pid = pooled.pid()
    assert pid is not None, f"no Chromium process with {pooled.marker}"
    os.kill(pid, signal.SIGKILL)
    return pid


def _slow_render(site_url: str) -> dict[str, object]:
    return {"url": f"{site_url}/js-content", "waitFor": [{"type": "delay", "duration": SLOW_BODY_DELAY_MS}]}


def _assert_renders_fine(api: RenderApi, site_url: str) -> None:
    render_id = api.create({"url": f"{site_url}/slow?ms=57"})
    response = api.wait(render_id, 60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert "Answered after 57 ms" in decode_html(body["html"])


@pytest.fixture(scope="module")
def crash_server(harness: FleetHarness) -> RunningServer:
    return harness.server()


def test_render_survives_browser_kill_on_a_fresh_browser(
    harness: FleetHarness, crash_server: RunningServer, site_url: str
) -> None:
    key = harness.new_key(crash_server)
    crashes_before, launches_before = harness.pool.crashes, harness.pool.launches
    with RenderApi(crash_server.url, key) as api:
        balance_before = api.balance_cents()
        render_id = api.create(_slow_render(site_url))
        killed = _kill_browser_under(harness, crash_server, render_id)

        response = api.wait(render_id, 90)
        job = _job(harness, crash_server, render_id)
        assert job.state.terminal, "the render must not stay in processing"
        # max_attempts defaults to 2: the crash is retried once on a fresh browser
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "completed"
        html = decode_html(body["html"])
        assert "Product 20 — $200.00" in html
        assert "Gamma" in html
        assert job.attempts == 2
        assert body["charged"] is True
        assert body["chargedAmountCents"] == 1
        assert api.balance_cents() == balance_before - 1  # one charge, not one per attempt

        # the dead browser was replaced, and the pool keeps rendering
        assert harness.pool.crashes == crashes_before + 1
        assert harness.pool.launches >= launches_before + 1
        assert all(b.pid() != killed for b in harness.pool.browsers)
        _assert_renders_fine(api, site_url)
        assert all(b.alive for b in harness.pool.browsers)


def test_crash_without_attempts_left_fails_without_charge(harness: FleetHarness, site_url: str) -> None:
    one_attempt = harness.server(max_attempts=1)
    key = harness.new_key(one_attempt)
    crashes_before = harness.pool.crashes
    with RenderApi(one_attempt.url, key) as api:
        balance_before = api.balance_cents()
        render_id = api.create(_slow_render(site_url))
        _kill_browser_under(harness, one_attempt, render_id)

        response = api.wait(render_id, 60)
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["status"] == "failed"
        assert body["errorCode"] == "BROWSER_CRASHED"
        assert body["billable"] is False
        assert body["charged"] is False
        assert body["chargedAmountCents"] == 0
        job = _job(harness, one_attempt, render_id)
        assert job.state is JobState.FAILED
        assert job.attempts == 1
        assert api.balance_cents() == balance_before

        # the next render on this server gets a replacement browser
        _assert_renders_fine(api, site_url)
        assert harness.pool.crashes == crashes_before + 1
        assert api.balance_cents() == balance_before - 1
