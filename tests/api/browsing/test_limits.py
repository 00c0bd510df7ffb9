"""How tasks end when the agent does not: the step limit, the failure budget, loop detection, a
model that answers garbage twice, a provider that is down, the task timeout, and sync waits
(finished in time; past the limit → 504 while the task goes on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.browsing.conftest import llm_settings
from tests.support.browsing import BASE, Browsing
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLMStandIn, Reply, Seen, call, http_error, later, raw_call, text

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browsing")]


def test_a_model_that_never_calls_done_stops_at_the_step_limit(client: Browsing, llm: LLMStandIn) -> None:
    llm.play(lambda seen: call("wait", seconds=0.01 * seen.order))  # never the same call twice
    done = client.run(task="How many products are there?", template="short")  # max_steps: 3

    assert done["status"] == "failed" and done["success"] is False and done["payload"] is None
    assert done["error"] == "The agent used its 3 steps (max_steps of template 'short') without calling done"
    info = done["info"]
    assert info["error_code"] == "AGENT_STEP_LIMIT" and info["template"] == "short"
    assert len(info["steps"]) == 3 and len(llm.requests) == 3
    assert info["screenshots"] == ["step-001.png", "step-002.png", "step-003.png"]  # the template's mode
    assert client.screenshot(done["task_id"], "step-003.png").status_code == 200  # kept on failure
    first = llm.requests[0]
    assert first.body["model"] == "scripted-small"  # the template's model
    assert set(first.tool_names) == {"navigate", "click", "wait", "extract_text", "done"}
    assert "Answer with the number only." in first.messages[0]["content"]


def test_garbage_twice_fails_the_task_cleanly(client: Browsing, llm: LLMStandIn) -> None:
    llm.play([text("Sure! The answer is probably 42."), raw_call("click", "{index: two")])
    done = client.run(task="Click something")

    assert done["status"] == "failed" and done["success"] is False
    assert done["info"]["error_code"] == "LLM_BAD_OUTPUT"
    assert done["error"] == (
        "The model's output could not be used twice in a row: click: the arguments are not valid JSON "
        "(first answer: no tool was called (call `done` with the result when the task is finished))"
    )
    assert len(llm.requests) == 2  # one repair request, no more
    repair = llm.requests[1].messages
    assert repair[-2] == {"role": "assistant", "content": "Sure! The answer is probably 42."}
    assert repair[-1]["content"].startswith("Your last answer could not be used: no tool was called")


def test_one_bad_answer_is_repaired(client: Browsing, llm: LLMStandIn) -> None:
    llm.play([call("click"), call("done", success=True, result="fixed")])  # click without an index
    done = client.run(task="Say fixed")
    assert done["status"] == "completed" and done["payload"] == "fixed"
    assert done["info"]["steps"][0]["repaired"] is True
    assert "click: index: Field required" in llm.requests[1].messages[-1]["content"]


def test_a_provider_that_is_down_fails_the_task(client: Browsing, llm: LLMStandIn) -> None:
    llm.play([http_error(503, "overloaded"), http_error(503, "still overloaded")])
    done = client.run(task="anything")
    assert done["status"] == "failed" and done["info"]["error_code"] == "LLM_PROVIDER_ERROR"
    assert done["error"] == "The model provider answered HTTP 503: still overloaded"


def test_failed_actions_use_up_the_failure_budget(client: Browsing, llm: LLMStandIn, site_url: str) -> None:
    llm.play(
        [
            call("navigate", url="http://10.255.255.1/admin"),  # refused by the egress policy: failed
            call("wait", seconds=0),  # works: the count starts again
            call("click", index=999),  # no such element (action_timeout_ms: 300)
            call("click", index=998),
        ]
    )
    done = client.run(task="Click the missing button", template="quick")  # max_failures: 2
    assert done["status"] == "failed" and done["info"]["error_code"] == "AGENT_STUCK"
    assert (
        done["error"] == "2 steps in a row failed; the last error: click '[data-bf-idx=\"998\"]': timed out"
    )
    assert [s["actions"][0]["ok"] for s in done["info"]["steps"]] == [False, True, False, False]
    blocked = done["info"]["steps"][0]["actions"][0]
    assert (
        blocked["ok"] is False
        and blocked["error"] == "egress to 10.255.255.1 is blocked by the egress policy"
    )
    assert llm.requests[1].tool_results() == [
        "failed: egress to 10.255.255.1 is blocked by the egress policy"
    ]


def test_loop_detection(client: Browsing, llm: LLMStandIn, site_url: str) -> None:
    def reply(seen: Seen) -> Reply:
        if seen.order == 1:
            return call("navigate", url=f"{site_url}/shop")
        return call("scroll", direction="up")  # at the top already: nothing changes

    llm.play(reply)
    done = client.run(task="Scroll forever")
    assert done["status"] == "failed" and done["info"]["error_code"] == "AGENT_STUCK"
    assert done["error"] == "The agent repeated the same action (scroll) 5 times on an unchanged page"
    assert len(done["info"]["steps"]) == 6
    assert "you made the same call(s) 3 times" in llm.requests[4].last_user_text()
    assert "same call(s)" not in llm.requests[3].last_user_text()


def test_the_task_timeout_is_enforced(client: Browsing, llm: LLMStandIn) -> None:
    llm.play([Reply(hold=True, delay_s=20)])
    done = client.run(task="Think slowly", timeout=1500)
    assert done["status"] == "failed" and done["info"]["error_code"] == "TASK_TIMEOUT"
    assert done["error"] == "The task exceeded its 1.5 s timeout"
    assert 1500 <= done["execution_time_ms"] < 10_000


def test_sync_returns_the_finished_status(client: Browsing, llm: LLMStandIn) -> None:
    llm.play([call("done", success=True, result="synced")])
    response = client.http.post(f"{BASE}/sync", json={"task": "Say synced"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed" and body["payload"] == "synced" and body["success"] is True
    assert set(body) == {"task_id", "status", "success", "payload", "info", "error", "execution_time_ms"}
    assert client.status(body["task_id"]) == body


@pytest.fixture
def impatient(harness: FleetHarness, llm_server: LLMStandIn) -> Iterator[Browsing]:
    running: RunningServer = harness.server(**llm_settings(llm_server), browsing_sync_wait_s=1.0)
    client = Browsing(running.url, harness.new_key(running))
    yield client
    client.close()
    harness.stop_server(running)


def test_sync_past_its_limit_is_504_and_the_task_completes(impatient: Browsing, llm: LLMStandIn) -> None:
    llm.play([later(call("done", success=True, result="late but done"), 2.5)])
    response = impatient.http.post(f"{BASE}/sync", json={"task": "Take your time"})
    assert response.status_code == 504
    body = response.json()
    assert body["error"] == "The task did not finish within 1 s; it keeps running: poll its status"
    assert impatient.status(body["task_id"])["status"] == "running"
    done = impatient.wait(body["task_id"])
    assert done["status"] == "completed" and done["payload"] == "late but done"
