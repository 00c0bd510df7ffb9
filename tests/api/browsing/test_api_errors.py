"""The browsing API's contract errors (400/401/404/405/504 as ``{"error"}``; another project's
task is a 404 like an unknown one), X-Request-ID, and the 503 that names the settings when no
model provider is configured (after the request's own 400s)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.browsing import BASE, Browsing
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLMStandIn, call

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browsing")]


def test_without_a_model_provider_post_is_503_naming_the_settings(
    harness: FleetHarness, server: RunningServer
) -> None:
    key = harness.new_key(server)
    for path in ("async", "sync"):
        response = httpx.post(
            f"{server.url}{BASE}/{path}", json={"task": "x"}, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 503, response.text
        assert set(response.json()) == {"error"}
        error = response.json()["error"]
        assert "llm_base_url" in error and "llm_model" in error
        assert "BROWSERFLEET_LLM_BASE_URL" in error and "BROWSERFLEET_LLM_MODEL" in error


def test_without_a_model_provider_the_request_is_still_checked_first(
    harness: FleetHarness, server: RunningServer
) -> None:
    """A caller's mistake is a 400 saying what it is, not hidden behind the missing provider."""
    headers = {"Authorization": f"Bearer {harness.new_key(server)}"}
    unknown = httpx.post(
        f"{server.url}{BASE}/async", json={"task": "x", "template": "no-such-template"}, headers=headers
    )
    assert unknown.status_code == 400, unknown.text
    assert "Unknown template 'no-such-template'" in unknown.json()["error"]
    nowhere = httpx.post(
        f"{server.url}{BASE}/sync", json={"task": "x", "filter": {"country_iso": "ZW"}}, headers=headers
    )
    assert nowhere.status_code == 400, nowhere.text
    assert nowhere.json() == {"error": "No live browsing node in country ZW"}
    # Browserbase's agent runs on the same service: its envelope, the same order
    agent = httpx.post(f"{server.url}/v1/agents/runs", json={"task": "x", "agentId": "nope"}, headers=headers)
    assert agent.status_code == 400 and "Unknown template 'nope'" in agent.json()["message"]
    valid = httpx.post(f"{server.url}/v1/agents/runs", json={"task": "x"}, headers=headers)
    assert valid.status_code == 503 and valid.json()["statusCode"] == 503
    assert "llm_base_url" in valid.json()["message"]


def test_authentication_and_ownership(
    harness: FleetHarness, bserver: RunningServer, client: Browsing, llm: LLMStandIn
) -> None:
    llm.play([call("done", success=True, result="mine")])
    done = client.run(task="Say mine", screenshots={"mode": "final_only"})
    task_id = done["task_id"]
    assert client.screenshot(task_id, "final.png").status_code == 200

    anonymous = httpx.get(f"{bserver.url}{BASE}/status", params={"task_id": task_id})
    assert anonymous.status_code == 401 and "Authorization: Bearer" in anonymous.json()["error"]
    wrong = httpx.get(
        f"{bserver.url}{BASE}/status", params={"task_id": task_id}, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status_code == 401 and set(wrong.json()) == {"error"}

    other = Browsing(bserver.url, harness.new_key(bserver))  # another project: as if unknown
    try:
        hidden = other.http.get(f"{BASE}/status", params={"task_id": task_id})
        assert hidden.status_code == 404
        assert hidden.json() == {"error": "Task not found"}
        assert other.screenshot(task_id, "final.png").status_code == 404
    finally:
        other.close()


def test_unknown_tasks_and_files_are_404(client: Browsing, llm: LLMStandIn) -> None:
    missing = client.http.get(f"{BASE}/status", params={"task_id": "brw_000000000000000000000000"})
    assert missing.status_code == 404 and missing.json() == {"error": "Task not found"}
    assert client.screenshot("brw_000000000000000000000000", "final.png").status_code == 404
    llm.play([call("done", success=True, result="no pictures")])
    done = client.run(task="Say no pictures")
    assert client.screenshot(done["task_id"], "final.png").status_code == 404
    assert client.screenshot(done["task_id"], "..%2Fsecret").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/async"),
        ("GET", "/sync"),
        ("POST", "/status"),
        ("DELETE", "/status"),
        ("POST", "/screenshots/t/f"),
    ],
)
def test_wrong_methods_are_405(client: Browsing, method: str, path: str) -> None:
    response = client.http.request(method, f"{BASE}{path}")
    assert response.status_code == 405 and response.json() == {"error": "Method Not Allowed"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "Invalid JSON body"),
        (b"{}", "task: Field required"),
        (b'{"task": ""}', "task: String should have at least 1 character"),
        (b'{"task": "x", "template": "nope"}', "Unknown template 'nope' (known: default, quick, short)"),
        (b'{"task": "x", "screenshots": {"full_page": true}}', "screenshots.mode: Field required"),
        (b'{"task": "x", "timeout": 10800001}', "timeout: Input should be less than or equal to 10800000"),
    ],
)
def test_bad_bodies_are_400(client: Browsing, content: bytes, message: str) -> None:
    response = client.http.post(
        f"{BASE}/async", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and response.json() == {"error": message}


def test_status_without_task_id_is_400(client: Browsing) -> None:
    response = client.http.get(f"{BASE}/status")
    assert response.status_code == 400 and response.json() == {"error": "task_id: Field required"}


def test_request_id_is_echoed_or_made(client: Browsing, bserver: RunningServer) -> None:
    given = client.http.get(
        f"{BASE}/status", params={"task_id": "brw_x"}, headers={"X-Request-ID": "req-42.a"}
    )
    assert given.status_code == 404 and given.headers["x-request-id"] == "req-42.a"
    made = httpx.get(f"{bserver.url}{BASE}/async")  # 405, unauthenticated: still carries one
    assert made.status_code == 405 and len(made.headers["x-request-id"]) == 32
    odd = client.http.get(
        f"{BASE}/status", params={"task_id": "x"}, headers={"X-Request-ID": "bad id <script>"}
    )
    assert odd.headers["x-request-id"] != "bad id <script>" and len(odd.headers["x-request-id"]) == 32
    assert "x-request-id" not in httpx.get(f"{bserver.url}/v1/regions").headers  # only this family
