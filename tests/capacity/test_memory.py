"""Memory protection: a node below its memory floor or over its budget takes no new session and
says so, stays responsive, and under falling memory ends its newest idle session first
(``MEMORY_PRESSURE``, never charged). ``/pressure`` reports CPU, memory and sessions, and its
numbers follow sessions as they start and end.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
import websockets.sync.client as ws_client
from browserbase import Browserbase

from browserfleet.core.jobs import JobState
from browserfleet.node.session.live import LiveSession
from tests.capacity.conftest import cdp_product, pressure, wait_for
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("capacity")]
HEALTH_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"session_grace_s": 1.0}


def shedding(server: RunningServer, ids: list[str]) -> bool:
    """Whether the node chose one of ``ids`` to end (it leaves the live registry as it ends)."""
    live: list[LiveSession] = [s for sid in ids if (s := server.fleet.live_sessions.get(sid)) is not None]
    return len(live) < len(ids) or any(s.shed for s in live)


class HealthWatch:
    """``GET /health`` every 50 ms in a thread; the slowest answer."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.slowest = 0.0
        self.answers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                started = time.perf_counter()
                assert http.get(f"{self.server.url}/health").status_code == 200
                self.slowest = max(self.slowest, time.perf_counter() - started)
                self.answers += 1
                time.sleep(0.05)


def test_a_tiny_memory_budget_refuses_sessions_and_stays_responsive(harness: FleetHarness) -> None:
    tiny = harness.server(memory_budget_mb=1)
    try:
        key = harness.new_key(tiny, concurrency=None)
        with HealthWatch(tiny) as health:
            for _ in range(5):
                started = time.perf_counter()
                response = httpx.post(
                    f"{tiny.url}/v1/sessions", headers={"X-BB-API-Key": key}, json={}, timeout=30
                )
                assert time.perf_counter() - started < 2.0
                assert response.status_code == 429, response.text
                assert response.headers["x-should-retry"] == "true"
                assert int(response.headers["retry-after"]) >= 1
                assert response.json()["message"] == (
                    "No browser node has room for another live session now "
                    "(memory budget spent (1 MB)): retry shortly"
                )
            time.sleep(0.5)
        assert health.answers >= 5 and health.slowest < HEALTH_WITHIN_S, health.slowest
        figures = pressure(tiny)
        assert figures["sessions"] == {"running": 0, "limit": 0, "room": 0}
        assert figures["nodes"][0]["sessions"]["reason"] == "memory budget spent (1 MB)"
        assert figures["accepting"] is True  # renders still run: the budget is the sessions'
        assert Browserbase(api_key=key, base_url=tiny.url, max_retries=0).sessions.list() == []
    finally:
        harness.stop_server(tiny)


def test_below_the_memory_floor_nothing_new_is_taken(harness: FleetHarness) -> None:
    starved = harness.server(memory_floor_mb=10_000_000)  # far above any machine's memory
    try:
        figures = pressure(starved)
        assert figures["accepting"] is False
        assert figures["reason"].startswith("memory below the floor (")
        assert figures["memory"]["floorMB"] == 10_000_000
        key = harness.new_key(starved, concurrency=None)
        headers = {"X-BB-API-Key": key}
        response = httpx.post(f"{starved.url}/v1/sessions", headers=headers, json={}, timeout=30)
        assert response.status_code == 429, response.text
        assert "memory below the floor" in response.json()["message"]
    finally:
        harness.stop_server(starved)


def test_pressure_follows_sessions_and_falling_memory_ends_the_newest_idle_one(
    harness: FleetHarness, cserver: RunningServer
) -> None:
    key = harness.new_key(cserver)
    client = Browserbase(api_key=key, base_url=cserver.url, max_retries=0)
    idle = pressure(cserver)
    assert idle["cpu"]["cores"] >= 1 and 0 <= idle["cpu"]["usedPercent"] <= 100
    assert idle["memory"]["totalMB"] > idle["memory"]["floorMB"] > 0
    assert 0 < idle["memory"]["availableMB"] <= idle["memory"]["totalMB"]
    assert idle["sessions"]["running"] == 0

    oldest = client.sessions.create(keep_alive=True)
    newest_idle = client.sessions.create(keep_alive=True)
    busy = client.sessions.create(keep_alive=True)  # the newest, but a client is connected
    ids = [oldest.id, newest_idle.id, busy.id]
    try:
        three = pressure(cserver)
        assert three["sessions"]["running"] == 3
        assert three["sessions"]["room"] == three["sessions"]["limit"] - 3
        assert three["kinds"]["session"]["running"] == 3
        metrics = httpx.get(f"{cserver.url}/metrics", timeout=10).text
        assert "browserfleet_sessions_live 3.0" in metrics
        assert 'browserfleet_memory_bytes{kind="available"}' in metrics

        holding = threading.Event()
        done = threading.Event()

        def connected() -> None:
            with ws_client.connect(busy.connect_url, max_size=None, open_timeout=30) as ws:
                ws.send(json.dumps({"id": 1, "method": "Browser.getVersion"}))
                ws.recv(timeout=30)
                holding.set()
                done.wait(30)

        client_thread = threading.Thread(target=connected, daemon=True)
        client_thread.start()
        assert holding.wait(30)
        assert "Chrome" in cdp_product(oldest.connect_url)  # a client came and left: idle again

        budget = cserver.fleet.budget
        assert budget is not None
        normal = budget.floor
        budget.floor = 1 << 50  # memory "falls" far below half the floor
        try:  # one session is chosen (the next only 2 s later): memory "recovers" at once
            wait_for(lambda: shedding(cserver, ids), 15, "a session to shed")
        finally:
            budget.floor = normal
        wait_for(lambda: client.sessions.retrieve(newest_idle.id).status == "ERROR", 15, "the shed session")
        job = harness.run(cserver.fleet.store.get_job(newest_idle.id))
        assert job is not None and job.state is JobState.FAILED
        assert (job.error_code, job.billable, job.charged_cents) == ("MEMORY_PRESSURE", False, 0)
        assert client.sessions.retrieve(oldest.id).status == "RUNNING"
        assert client.sessions.retrieve(busy.id).status == "RUNNING"
        two = wait_for(lambda: (p := pressure(cserver))["sessions"]["running"] == 2 and p, 10, "two left")
        assert two["accepting"] is True
        done.set()
        client_thread.join(10)
    finally:
        for sid in ids:
            client.sessions.update(sid, status="REQUEST_RELEASE")
    after = wait_for(lambda: (p := pressure(cserver))["sessions"]["running"] == 0 and p, 15, "none left")
    assert after["sessions"]["room"] == after["sessions"]["limit"] > 0  # all of it free again
