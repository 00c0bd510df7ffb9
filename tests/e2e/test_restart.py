"""Durability across restarts of the real ``browserfleet serve`` process.

Renders accepted before the server stops (SIGKILL, or a graceful SIGTERM) are finished after
it starts again on the same data dir, each charged exactly once. Also the first-start key:
printed alone on stdout the first time, never again.
"""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.support.e2e import (
    TEST_SITE_EGRESS,
    CliServer,
    RenderApi,
    browser_pids,
    cli_env,
    decode_html,
    wait_until,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("restart")]

DELAY_MS = 2000


def _env() -> dict[str, str]:
    return cli_env(BROWSERFLEET_EGRESS_ALLOW=TEST_SITE_EGRESS, BROWSERFLEET_NODE_SLOTS="1")


def _first_start_key(server: CliServer) -> str:
    lines = server.stdout().splitlines()
    assert len(lines) == 1, f"stdout must hold only the key: {lines!r}"
    key = lines[0]
    assert key.startswith("bf_")
    assert len(key) > 30
    assert key.strip() == key
    return key


def _render_body(site_url: str, ms: int) -> dict[str, object]:
    return {"url": f"{site_url}/slow?ms={ms}", "waitFor": [{"type": "delay", "duration": DELAY_MS}]}


def _attempts(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{data_dir / 'browserfleet.db'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT id, attempts FROM jobs").fetchall()
    return {job_id: attempts for job_id, attempts in rows}


def _wait_running(server: CliServer) -> dict[str, object]:
    pressure = wait_until(
        lambda: (p := server.pressure())["running"] == 1 and p, 30, what="the first render running"
    )
    time.sleep(0.5)  # inside the render's 2 s waitFor delay
    return pressure


def _assert_completed(api: RenderApi, render_id: str, ms: int) -> None:
    response = api.wait(render_id, 60)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert f"Answered after {ms} ms" in decode_html(body["html"])
    assert body["loadStrategy"] == "custom"
    assert body["charged"] is True
    assert body["chargedAmountCents"] == 1


def test_renders_survive_sigkill_and_sigterm_restarts(tmp_path: Path, site_url: str) -> None:
    data_dir = tmp_path / "data"
    delays = [101, 102, 103]

    # 1. first start prints the key; 3 renders queue on 1 slot; SIGKILL while the first runs
    first = CliServer(data_dir, tmp_path, _env(), name="first")
    try:
        first.wait_ready()
        key = _first_start_key(first)
        with RenderApi(first.url, key) as api:
            balance_before = api.balance_cents()
            ids = [api.create(_render_body(site_url, ms)) for ms in delays]
            pressure = _wait_running(first)
            assert pressure["queued"] == 2  # one slot: the other two wait
            assert all(api.get(render_id).json()["status"] == "processing" for render_id in ids)
        first.kill()
        assert first.proc.returncode == -signal.SIGKILL
        assert browser_pids(first.pid) == []
    finally:
        first.close()
    assert _attempts(data_dir) == {ids[0]: 1, ids[1]: 0, ids[2]: 0}

    # 2. second start: no key printed; every accepted render completes, each charged once
    second = CliServer(data_dir, tmp_path, _env(), name="second")
    try:
        second.wait_ready()
        with RenderApi(second.url, key) as api:
            for render_id, ms in zip(ids, delays, strict=True):
                _assert_completed(api, render_id, ms)
            assert api.balance_cents() == balance_before - 3
            # 3. graceful stop (SIGTERM) in the middle of another render
            late_id = api.create(_render_body(site_url, 111))
            _wait_running(second)
        assert second.stdout() == "", "a second start must not print a key"
        assert "First start" not in second.stderr()
        stopped_at = time.monotonic()
        code = second.terminate(timeout=30)
        assert code in (0, -signal.SIGTERM)
        assert time.monotonic() - stopped_at < 15, "a graceful stop must not hang on a running render"
        assert "Traceback" not in second.stderr()
        assert browser_pids(second.pid) == [], "a graceful stop closes its browsers"
    finally:
        second.close()
    # the SIGKILLed render ran again; the queued ones ran once; the SIGTERMed one is pending
    assert _attempts(data_dir) == {ids[0]: 2, ids[1]: 1, ids[2]: 1, late_id: 1}

    # 4. third start finishes the render interrupted by SIGTERM
    third = CliServer(data_dir, tmp_path, _env(), name="third")
    try:
        third.wait_ready()
        with RenderApi(third.url, key) as api:
            _assert_completed(api, late_id, 111)
            assert api.balance_cents() == balance_before - 4
        assert third.stdout() == ""
    finally:
        third.close()
    assert _attempts(data_dir)[late_id] == 2
