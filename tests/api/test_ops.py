"""Operations endpoints: /health, /pressure, /metrics (Prometheus), /docs and /openapi.json.

A dedicated server, so the pressure and the job counters only see this module's renders.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.e2e import RenderApi, decode_html, wait_until
from tests.support.fleet import FleetHarness, RunningServer

COMPLETED_SAMPLE = re.compile(
    r'^browserfleet_jobs_total\{error_code="",kind="render",state="completed"\} (\S+)$', re.M
)


@pytest.fixture(scope="module")
def ops_server(harness: FleetHarness) -> RunningServer:
    return harness.server(node_slots=3)


@pytest.fixture
def http(ops_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ops_server.url, timeout=30) as client:
        yield client


def _completed_count(metrics_text: str) -> float:
    match = COMPLETED_SAMPLE.search(metrics_text)
    return float(match.group(1)) if match else 0.0


def test_health(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["store"] == "sqlite"
    assert body["nodes"] == 1
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", body["version"])


@pytest.mark.browser
def test_pressure_and_metrics_follow_a_render(
    harness: FleetHarness, ops_server: RunningServer, http: httpx.Client, site_url: str
) -> None:
    idle = http.get("/pressure").json()
    assert (idle["running"], idle["queued"], idle["accepting"], idle["reason"]) == (0, 0, True, None)
    assert {k: idle["limits"][k] for k in ("slots", "nodes", "maxQueued")} == {
        "slots": 3,
        "nodes": 1,
        "maxQueued": 150,
    }
    assert idle["kinds"]["render"] == {"running": 0, "queued": 0}
    metrics_before = http.get("/metrics").text
    completed_before = _completed_count(metrics_before)

    key = harness.new_key(ops_server)
    with RenderApi(ops_server.url, key) as api:
        render_id = api.create(
            {"url": f"{site_url}/slow?ms=21", "waitFor": [{"type": "delay", "duration": 1500}]}
        )
        busy = wait_until(
            lambda: (p := http.get("/pressure").json())["running"] > 0 and p, 15, what="running > 0"
        )
        assert busy["running"] == 1
        assert busy["kinds"]["render"]["running"] == 1
        assert busy["accepting"] is True
        during = http.get("/metrics").text
        assert re.search(r"^browserfleet_jobs_running 1\.0$", during, re.M)

        response = api.wait(render_id, 60)
        assert response.status_code == 200, response.text
        assert "Answered after 21 ms" in decode_html(response.json()["html"])

    after = http.get("/pressure").json()
    assert (after["running"], after["queued"]) == (0, 0)
    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE browserfleet_jobs_total counter" in metrics.text
    assert _completed_count(metrics.text) == completed_before + 1
    assert re.search(r"^browserfleet_jobs_running 0\.0$", metrics.text, re.M)
    assert re.search(r"^browserfleet_node_slots 3\.0$", metrics.text, re.M)
    assert re.search(r'^browserfleet_job_duration_seconds_count\{kind="render"\} [1-9]', metrics.text, re.M)


def test_openapi_docs(http: httpx.Client) -> None:
    docs = http.get("/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    assert "swagger-ui" in docs.text
    assert "/openapi.json" in docs.text

    spec = http.get("/openapi.json").json()
    assert spec["info"]["title"] == "browserfleet"
    assert "post" in spec["paths"]["/v1/renders"]
    assert "get" in spec["paths"]["/v1/renders/{render_id}"]
    assert {"/health", "/pressure", "/metrics"} <= set(spec["paths"])
