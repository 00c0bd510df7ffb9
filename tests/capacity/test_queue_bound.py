"""Work that can wait queues, bounded: past ``maxQueued`` a render or an automation run answers 429
with ``Retry-After``; once the queue drains the same request is accepted again."""

from __future__ import annotations

import httpx
import pytest

from tests.capacity.conftest import pressure, wait_for
from tests.support.automations import Automations
from tests.support.e2e import RenderApi
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("capacity")]
MAX_QUEUED = 2


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {"node_slots": 1, "max_queued": MAX_QUEUED}


def slow(site_url: str, ms: int = 2500) -> dict[str, object]:
    return {"url": f"{site_url}/slow?ms=5", "waitFor": [{"type": "delay", "duration": ms}]}


def test_renders_and_runs_queue_up_to_max_queued_then_429(
    harness: FleetHarness, cserver: RunningServer, site_url: str
) -> None:
    key = harness.new_key(cserver)
    with RenderApi(cserver.url, key) as api:
        running = api.create(slow(site_url))
        wait_for(lambda: pressure(cserver)["running"] == 1, 20, "the first render running")
        queued = [api.create(slow(site_url, 100)) for _ in range(MAX_QUEUED)]
        full = pressure(cserver)
        assert (full["queued"], full["limits"]["maxQueued"], full["accepting"]) == (
            MAX_QUEUED,
            MAX_QUEUED,
            False,
        )
        assert full["kinds"]["render"] == {"running": 1, "queued": MAX_QUEUED}
        assert full["reason"] == f"the queue is full ({MAX_QUEUED} waiting, at most {MAX_QUEUED})"

        refused = api.client.post("/renders", json=slow(site_url, 100))
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert (
            refused.json()["message"]
            == f"The queue is full ({MAX_QUEUED} waiting, at most {MAX_QUEUED}): retry later"
        )

        automations = Automations(cserver, key)
        try:
            task = automations.create_task([{"action": "go", "config": {"url": f"{site_url}/slow?ms=5"}}])
            run = automations.http.post(f"/v1/tasks/{task['uid']}/runs", json={})
            assert run.status_code == 429, run.text
            assert int(run.headers["Retry-After"]) >= 1
        finally:
            automations.close()

        for render_id in [running, *queued]:
            assert api.wait(render_id, 60).json()["status"] == "completed"
        again = api.create(slow(site_url, 100))  # drained: accepted again
        assert api.wait(again, 60).json()["status"] == "completed"
    assert httpx.get(f"{cserver.url}/pressure", timeout=10).json()["accepting"] is True
