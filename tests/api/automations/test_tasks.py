"""The Automations API around runs: tasks CRUD with step validation (400 naming the step), paging
(25 per page), per-project isolation (404), auth and account, the monthly quota (402) and the
per-key rate limit (429)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from browserfleet.core.automations import TaskInput
from tests.support.automations import Automations, quota_key
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("automations")]  # runs use the browsers

GO = {"uid": "open", "action": "go", "config": {"url": "http://127.0.0.1:9/"}}


def _project_of(server: RunningServer, harness: FleetHarness, key: str) -> Any:
    return harness.run(server.fleet.accounts.authenticate(key))


def test_task_crud(client: Automations) -> None:
    steps = [
        {"action": "go", "config": {"url": "http://127.0.0.1:9/a", "waitUntil": "domcontentloaded"}},
        {"uid": "shot", "action": "take_screenshot"},
    ]
    created = client.create_task(steps, viewport_width=1280, viewport_height=720)
    uid = created["uid"]
    assert len(uid) == 18 and uid.isalnum()
    assert (created["name"], created["viewport_width"], created["viewport_height"]) == (
        "test task",
        1280,
        720,
    )
    generated = created["steps"][0]["uid"]
    assert len(generated) == 18 and generated != uid
    assert created["steps"] == [
        {"uid": generated, "action": "go", "config": steps[0]["config"]},
        {"uid": "shot", "action": "take_screenshot", "config": {}},
    ]
    assert created["created_at"].endswith("Z")
    assert client.http.get(f"/v1/tasks/{uid}").json() == created

    patched = client.http.patch(f"/v1/tasks/{uid}", json={"name": "renamed", "steps": [GO]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "renamed" and patched.json()["steps"] == [GO]
    assert patched.json()["viewport_width"] == 1280

    default = client.create_task([])
    assert (default["viewport_width"], default["viewport_height"]) == (1024, 768)
    listed = client.http.get("/v1/tasks").json()
    assert [t["uid"] for t in listed] == [default["uid"], uid]  # newest first

    assert client.http.delete(f"/v1/tasks/{uid}").status_code == 204
    gone = client.http.get(f"/v1/tasks/{uid}")
    assert gone.status_code == 404 and gone.json() == {"message": "Task not found"}
    assert client.http.delete(f"/v1/tasks/{uid}").status_code == 404


@pytest.mark.parametrize(
    ("steps", "field", "phrase"),
    [
        ([GO, {"uid": "x1", "action": "fly", "config": {}}], "steps[1].action", "unknown action 'fly'"),
        ([GO, {"uid": "c1", "action": "click", "config": {}}], "steps[1].config.selector", "Field required"),
        (
            [GO, {"uid": "t1", "action": "save_text", "config": {"selector": "h1", "colour": 1}}],
            "steps[1].config.colour",
            "Extra inputs",
        ),
        (
            [GO, {"uid": "w1", "action": "wait", "config": {"duration": -1}}],
            "steps[1].config.duration",
            "greater than or equal to 0",
        ),
        (
            [GO, {"uid": "s1", "action": "scroll", "config": {}}],
            "steps[1].config",
            "exactly one of direction or selector",
        ),
        ([GO, {"uid": "ai", "action": "ai_save_data", "config": {}}], "steps[1].action", "no LLM provider"),
        ([GO, {"uid": "al", "action": "ai_save_links"}], "steps[1].action", "no LLM provider configured"),
        ([{**GO, "iterate": True}], "steps[0].iterate", "previous step"),
        ([GO, {**GO}], "steps[1].uid", "duplicate uid"),
        ([GO, {"uid": "bad uid!", "action": "go_back"}], "steps[1].uid", "uid must be"),
    ],
)
def test_bad_step_is_400_naming_the_step(
    client: Automations, steps: list[dict[str, Any]], field: str, phrase: str
) -> None:
    response = client.http.post("/v1/tasks", json={"name": "bad", "steps": steps})
    assert response.status_code == 400, response.text
    body = response.json()
    index = int(field.split("[")[1].split("]", maxsplit=1)[0])
    uid = steps[index].get("uid")
    assert body["message"].startswith(f"steps[{index}] (uid {uid}")
    assert phrase in body["message"]
    assert body["details"][0]["field"] == field
    # nothing was created, and PATCH validates the same way
    assert client.http.get("/v1/tasks").json() == []
    task = client.create_task([GO])
    patched = client.http.patch(f"/v1/tasks/{task['uid']}", json={"steps": steps})
    assert patched.status_code == 400 and patched.json()["details"][0]["field"] == field


def test_run_overrides_are_validated(client: Automations) -> None:
    task = client.create_task([GO, {"uid": "t", "action": "save_text", "config": {"selector": "h1"}}])
    unknown = client.http.post(
        f"/v1/tasks/{task['uid']}/runs", json={"steps": [{"uid": "nope", "config": {}}]}
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"] == "steps[0]: no step with uid 'nope' in this task"
    bad = client.http.post(
        f"/v1/tasks/{task['uid']}/runs",
        json={"steps": [{"uid": "t", "action": "save_text", "config": {"x": 1}}]},
    )
    assert bad.status_code == 400
    assert bad.json()["message"].startswith("steps[1] (uid t, save_text): config.x")
    webhook = client.http.post(f"/v1/tasks/{task['uid']}/runs", json={"webhook_url": "ftp://x"})
    assert webhook.status_code == 400 and "webhook_url" in webhook.json()["message"]
    # no run was created by the refused requests
    assert client.http.get(f"/v1/tasks/{task['uid']}/runs").json() == []


def test_pages_of_25(harness: FleetHarness, aserver: RunningServer, client: Automations, key: str) -> None:
    project = _project_of(aserver, harness, key)

    async def make(n: int) -> list[str]:
        return [
            (await aserver.fleet.tasks.create(project, TaskInput(name=f"task {i}", steps=[]))).id
            for i in range(n)
        ]

    uids = harness.run(make(27))
    pages = [client.http.get("/v1/tasks", params={"page": p}).json() for p in (1, 2, 3)]
    assert [len(p) for p in pages] == [25, 2, 0]
    assert [t["uid"] for t in pages[0] + pages[1]] == list(reversed(uids))
    assert client.http.get("/v1/tasks", params={"page": 0}).status_code == 400


def test_run_pages_of_25(
    harness: FleetHarness, aserver: RunningServer, client: Automations, key: str
) -> None:
    """Runs of a task with no steps (no browser work beyond an empty context)."""
    project = _project_of(aserver, harness, key)
    task = client.create_task([])

    async def make(n: int) -> list[str]:
        from browserfleet.core.automations import RunRequest

        return [
            (
                await aserver.fleet.runs.create(project, task["uid"], RunRequest(overrides=[], metadata=i))
            ).job.id
            for i in range(n)
        ]

    uids = harness.run(make(26))
    first = client.http.get(f"/v1/tasks/{task['uid']}/runs").json()
    second = client.http.get(f"/v1/tasks/{task['uid']}/runs", params={"page": 2}).json()
    assert (len(first), len(second)) == (25, 1)
    assert [r["uid"] for r in first + second] == list(reversed(uids))
    assert second[0]["metadata"] == 0 and second[0]["task"] == task["uid"]
    last = client.wait_run(task["uid"], uids[-1])
    assert last["status"] == "finished" and last["outputs"] == {} and last["steps"] == []


def test_other_projects_tasks_and_runs_are_404(
    harness: FleetHarness, aserver: RunningServer, client: Automations
) -> None:
    task = client.create_task([])
    run = client.start_run(task["uid"])
    other = Automations(aserver, harness.new_key(aserver))
    try:
        own = other.create_task([])
        for method, path in [
            ("GET", f"/v1/tasks/{task['uid']}"),
            ("PATCH", f"/v1/tasks/{task['uid']}"),
            ("DELETE", f"/v1/tasks/{task['uid']}"),
            ("POST", f"/v1/tasks/{task['uid']}/runs"),
            ("GET", f"/v1/tasks/{task['uid']}/runs"),
            ("GET", f"/v1/tasks/{task['uid']}/runs/{run['uid']}"),
            ("GET", f"/v1/tasks/{own['uid']}/runs/{run['uid']}"),
        ]:
            response = other.http.request(method, path, json={} if method in ("PATCH", "POST") else None)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json()["message"] in {"Task not found", "Run not found"}
        assert other.http.get("/v1/tasks").json() == [own]
    finally:
        other.close()
    # the owner still has both
    assert client.http.get(f"/v1/tasks/{task['uid']}/runs/{run['uid']}").json()["uid"] == run["uid"]


def test_auth_and_account(
    harness: FleetHarness, aserver: RunningServer, client: Automations, key: str
) -> None:
    project = _project_of(aserver, harness, key)
    auth = client.http.get("/v2/auth")
    assert auth.status_code == 200 and auth.json() == {"message": "Authorized", "workspace": project.name}
    missing = httpx.get(f"{aserver.url}/v2/auth", timeout=10)
    assert missing.status_code == 401 and set(missing.json()) == {"message"}
    wrong = httpx.get(f"{aserver.url}/v1/account", headers={"Authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401 and "invalid" in wrong.json()["message"]

    task = client.create_task([])
    client.start_run(task["uid"])
    account = client.http.get("/v1/account").json()
    assert account["uid"] == project.id and account["plan_name"]
    assert account["api_usage"] == 1
    assert account["api_quota"] == aserver.settings.automation_default_quota == 36_000
    # the Renders family keeps its own envelope under /v1/account
    balance = httpx.get(f"{aserver.url}/v1/account/balance", timeout=10)
    assert balance.status_code == 401 and "error" in balance.json()


def test_over_quota_is_402(harness: FleetHarness, server: RunningServer) -> None:
    client = Automations(server, quota_key(harness, server, quota=2))
    try:
        task = client.create_task([])
        first, second = client.start_run(task["uid"]), client.start_run(task["uid"])
        refused = client.http.post(f"/v1/tasks/{task['uid']}/runs", json={})
        assert refused.status_code == 402
        assert refused.json() == {"message": "Monthly quota of 2 runs used up"}
        account = client.http.get("/v1/account").json()
        assert (account["api_usage"], account["api_quota"]) == (2, 2)
        runs = client.http.get(f"/v1/tasks/{task['uid']}/runs").json()
        assert {r["uid"] for r in runs} == {first["uid"], second["uid"]}
    finally:
        client.close()


def test_31st_request_within_10_seconds_is_429(harness: FleetHarness, server: RunningServer) -> None:
    key = harness.new_key(server)
    other = harness.new_key(server)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        started = time.monotonic()
        statuses = [http.get("/v2/auth", headers=headers).status_code for _ in range(30)]
        limited = http.get("/v1/tasks", headers=headers)
        assert time.monotonic() - started < 10
        assert statuses == [200] * 30
        assert limited.status_code == 429
        assert limited.json() == {"message": "Rate limit of 30 requests per 10 seconds exceeded"}
        assert 1 <= int(limited.headers["Retry-After"]) <= 10
        # per key: another key is not limited
        assert http.get("/v2/auth", headers={"Authorization": f"Bearer {other}"}).status_code == 200
