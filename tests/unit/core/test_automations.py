"""Automations core without a browser: every action translates into the one vocabulary, overrides
merge by uid, iteration binds items, run statuses cover every job state, the rate limiter's
window slides, and the docs list every action."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from browserfleet.core import actions as a
from browserfleet.core.automations.plan import Output, RunPlan, bind
from browserfleet.core.automations.step_configs import CONFIGS, LLM_ACTIONS
from browserfleet.core.automations.steps import apply_overrides, plan_run, validate_steps
from browserfleet.core.automations.wire import RUN_STATUS
from browserfleet.core.errors import InvalidRequest, RateLimited
from browserfleet.core.jobs import JobState
from browserfleet.core.ratelimit import SlidingWindowLimiter

DOCS = Path(__file__).resolve().parents[3] / "docs" / "automations.md"

MINIMAL: dict[str, dict[str, Any]] = {
    "go": {"url": "http://127.0.0.1/"},
    "click": {"selector": "#b"},
    "enter_text": {"selector": "#q", "text": "x"},
    "keypress": {"key": "Enter"},
    "select_option": {"selector": "select", "value": "a"},
    "hover": {"selector": "#h"},
    "scroll": {"direction": "down"},
    "wait": {"duration": 0.5},
    "wait_for_element": {"selector": "#e"},
    "go_back": {},
    "upload_file": {"selector": "#f", "url": "http://127.0.0.1/a.csv"},
    "solve_captcha": {},
    "take_screenshot": {"full_page": True},
    "save_text": {"selector": "h1"},
    "save_attribute": {"selector": "a", "attribute": "href"},
    "save_image": {"selector": "img"},
    "save_links": {},
    "save_html": {},
    "save_pdf": {},
    "save_structured_data": {"parent_selector": "tr", "fields": [{"name": "n", "selector": "td"}]},
    "download_file": {"url": "http://127.0.0.1/a.csv"},
    "run_javascript": {"code": "return 1"},
}


def test_every_contract_action_translates_into_the_vocabulary() -> None:
    assert set(MINIMAL) | LLM_ACTIONS == set(CONFIGS)
    steps = validate_steps(
        [{"uid": f"s{i}", "action": n, "config": c} for i, (n, c) in enumerate(MINIMAL.items())]
    )
    plan = plan_run(steps, 800, 600)
    assert [s.action for s in plan.steps] == list(MINIMAL)
    assert RunPlan.model_validate_json(plan.model_dump_json()) == plan  # what the job carries
    by_name = {s.action: s for s in plan.steps}
    assert by_name["wait"].actions == [a.Delay(duration_ms=500)]
    assert by_name["scroll"].actions == [a.Scroll(y=600)]
    assert by_name["take_screenshot"].output is Output.FILE and by_name["take_screenshot"].file_ext == "png"
    assert by_name["save_pdf"].file_ext == "pdf"
    assert by_name["upload_file"].upload_selector == "#f"
    assert by_name["go"].key == "s0_go"


@pytest.mark.parametrize("name", sorted(LLM_ACTIONS))
def test_llm_actions_are_refused_without_a_provider(name: str) -> None:
    with pytest.raises(InvalidRequest, match="no LLM provider configured"):
        validate_steps([{"uid": "a", "action": name, "config": {}}])


def test_overrides_merge_by_uid_and_skip() -> None:
    steps = validate_steps(
        [
            {"uid": "g", "action": "go", "config": {"url": "http://127.0.0.1/a", "waitUntil": "load"}},
            {"uid": "t", "action": "save_text", "config": {"selector": "h1", "all": True}},
            {"uid": "c", "action": "click", "config": {"selector": "#x"}},
        ]
    )
    merged = apply_overrides(
        steps,
        [
            {"uid": "g", "config": {"url": "http://127.0.0.1/b"}},
            {"uid": "t", "action": "save_html", "config": {}},
            {"uid": "c", "skip": True},
        ],
    )
    assert merged[0]["config"] == {"url": "http://127.0.0.1/b", "waitUntil": "load"}
    assert merged[1] == {"uid": "t", "action": "save_html", "config": {}}
    assert merged[2]["skip"] is True
    assert [s.uid for s in plan_run(merged, 1, 1).steps] == ["g", "t"]
    assert steps[0]["config"]["url"] == "http://127.0.0.1/a"  # the task's steps are untouched
    with pytest.raises(InvalidRequest, match="no step with uid 'zz'"):
        apply_overrides(steps, [{"uid": "zz"}])


def test_bind_replaces_item_placeholders() -> None:
    actions: list[a.Action] = [a.Goto(url="{{item}}"), a.Click(selector="a[href='{{ item.link }}']")]
    assert bind(actions, "http://127.0.0.1/x") == [
        a.Goto(url="http://127.0.0.1/x"),
        a.Click(selector="a[href='']"),
    ]
    bound = bind(actions[1:], {"link": "/p/1"})  # (a record is no URL for the goto: refused, below)
    assert bound[0] == a.Click(selector="a[href='/p/1']")
    with pytest.raises(ValidationError, match="only http:// and https://"):
        bind(actions, {"link": "/p/1"})
    assert bind([a.Evaluate(expression="return {{item}}")], 7) == [a.Evaluate(expression="return 7")]
    # an iterated go defaults its url to the item
    plan = plan_run(validate_steps([{"action": "save_links"}, {"action": "go", "iterate": True}]), 1, 1)
    assert plan.steps[1].iterate and plan.steps[1].actions == [a.Goto(url="{{item}}")]


def test_run_status_covers_every_job_state() -> None:
    assert set(RUN_STATUS) == set(JobState)
    assert {RUN_STATUS[s] for s in (JobState.QUEUED, JobState.ASSIGNED, JobState.RUNNING)} == {"running"}
    assert RUN_STATUS[JobState.COMPLETED] == "finished"


async def test_sliding_window_limits_per_key_and_slides() -> None:
    limiter = SlidingWindowLimiter(3, 0.3)
    for _ in range(3):
        await limiter.hit("k")
    with pytest.raises(RateLimited) as refused:
        await limiter.hit("k")
    assert refused.value.limit == 3 and refused.value.retry_after_s == 1
    await limiter.hit("other")  # another key has its own window
    await asyncio.sleep(0.35)
    await limiter.hit("k")  # the window moved on


def test_docs_list_every_action() -> None:
    first_cells = [line.split("|")[1] for line in DOCS.read_text().splitlines() if line.startswith("| `")]
    assert [name for name in CONFIGS if not any(f"`{name}`" in cell for cell in first_cells)] == []


@pytest.mark.parametrize(("seconds", "expected"), [(6.4, 6), (6.6, 7), (0.3, 0), (None, None)])
def test_finished_in_seconds_is_a_whole_number_as_in_browserbear(
    seconds: float | None, expected: int | None
) -> None:
    """The reference's run object reads ``"finished_in_seconds": 6`` (an integer); null while running."""
    from datetime import UTC, datetime, timedelta

    from browserfleet.core.automations.wire import run_object
    from browserfleet.core.jobs import JobKind, Route
    from browserfleet.store.records import JobRecord, TaskRunRecord

    created = datetime(2026, 1, 2, 3, 4, 5, 250_000, tzinfo=UTC)
    finished = None if seconds is None else created + timedelta(seconds=seconds)
    job = JobRecord(
        id="run_1",
        project_id="prj",
        kind=JobKind.STEPS,
        state=JobState.RUNNING if finished is None else JobState.COMPLETED,
        route=Route(),
        spec={"steps": []},
        result=None if finished is None else {"outputs": {}},
        error_code=None,
        error_message=None,
        billable=False,
        charged_cents=0,
        attempts=1,
        node_id=None,
        keep_blobs_days=None,
        created_at=created,
        updated_at=finished or created,
        started_at=created,
        finished_at=finished,
        blobs_purged=False,
    )
    run = TaskRunRecord(job=job, task_id="task_1", webhook_url=None, metadata=None, created_at=created)
    value = run_object(run, lambda run_uid, name: f"/files/{run_uid}/{name}")["finished_in_seconds"]
    assert value == expected and type(value) is type(expected)
