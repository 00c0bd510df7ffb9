"""Browserbase-style agent runs on the browsing engine, with the official ``browserbase`` SDK."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from browserbase import BadRequestError, Browserbase, NotFoundError

from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLMStandIn, Reply, Seen, call

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browsing")]


def sdk(server: RunningServer, key: str) -> Browserbase:
    return Browserbase(api_key=key, base_url=server.url)


def wait_run(bb: Browserbase, run_id: str, timeout_s: float = 60) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        run = bb.agents.runs.retrieve(run_id)
        if run.status not in ("PENDING", "RUNNING"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.1)


def test_a_run_with_a_result_schema(
    harness: FleetHarness, bserver: RunningServer, bkey: str, llm: LLMStandIn, site_url: str
) -> None:
    tag = uuid.uuid4().hex[:6]

    def reply(seen: Seen) -> Reply:
        state = seen.last_user_text()
        if "Current page: about:blank" in state:
            return call("navigate", url=f"{site_url}/shop?t={tag}")
        cheapest = min(
            (line for line in state.splitlines() if "Add to cart" in line),
            key=lambda line: float(line.split("$")[1].split()[0]),
        )
        name, price = cheapest.split(" — ")[0], cheapest.split("$")[1].split()[0]
        return call("done", success=True, result=json.dumps({"name": name, "price": float(price)}))

    llm.play(reply)
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "price": {"type": "number"}}}
    bb = sdk(bserver, bkey)
    created = bb.agents.runs.create(
        task=f"Find the cheapest product at {site_url}/shop", result_schema=schema
    )
    assert created.status == "PENDING" and created.task.startswith("Find the cheapest")
    run = wait_run(bb, created.run_id)

    assert run.status == "COMPLETED", run  # type: ignore[attr-defined]
    assert run.result == {"name": "Notebook", "price": 7.25}  # type: ignore[attr-defined]
    assert run.result_schema == schema and run.cause is None  # type: ignore[attr-defined]
    assert run.started_at is not None and run.ended_at >= run.started_at  # type: ignore[attr-defined]
    assert json.dumps(schema) in llm.requests[0].messages[0]["content"]  # the model was told the shape


def test_failed_runs_unknown_runs_and_unsupported_fields(
    harness: FleetHarness, bserver: RunningServer, bkey: str, llm: LLMStandIn
) -> None:
    llm.play([call("done", success=False, result="The shop is closed")])
    bb = sdk(bserver, bkey)
    run = wait_run(bb, bb.agents.runs.create(task="Buy a lamp", agent_id="quick").run_id)
    assert run.status == "FAILED" and run.agent_id == "quick"  # type: ignore[attr-defined]
    assert run.cause.code == "AGENT_GAVE_UP"  # type: ignore[attr-defined]
    assert run.cause.message == "The agent could not accomplish the task: The shop is closed"  # type: ignore[attr-defined]

    with pytest.raises(NotFoundError):
        bb.agents.runs.retrieve("brw_000000000000000000000000")
    other = sdk(bserver, harness.new_key(bserver))
    with pytest.raises(NotFoundError):
        other.agents.runs.retrieve(run.run_id)  # type: ignore[attr-defined]
    with pytest.raises(BadRequestError, match="pauseWhen is not supported"):
        bb.agents.runs.create(task="x", pause_when="a code is asked for")
    with pytest.raises(BadRequestError, match="Unknown template 'nope'"):
        bb.agents.runs.create(task="x", agent_id="nope")
