"""The job state machine, routes and the errorCode table (core/jobs.py, core/errors.py)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from browserfleet.core import jobs as jobs_module
from browserfleet.core.errors import ERROR_CODES, ErrorCode, IllegalTransition, JobFailure
from browserfleet.core.jobs import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    JobState,
    NodeLabels,
    Route,
    RouteKind,
    transition,
)

Q, A, R = JobState.QUEUED, JobState.ASSIGNED, JobState.RUNNING
C, F, X = JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED

# The edges documented in the core/jobs.py docstring: the diagram plus the prose below it.
DOCUMENTED_EDGES = {
    (Q, A),  # queued ──▶ assigned
    (A, R),  # assigned ──▶ running
    (R, C),  # running ──▶ completed
    (R, F),  # running └────▶ failed
    (Q, X),  # └──────┴────┴───▶ cancelled, from queued, assigned and running
    (A, X),
    (R, X),
    (A, Q),  # requeue (└────────┘ in the diagram; "assigned/running → queued" in the prose)
    (R, Q),
    (A, F),  # "assigned → failed (not drawn)": a lost node's job that used its attempts
}
ALL_PAIRS = list(itertools.product(JobState, repeat=2))
REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_transition_allows_exactly_the_documented_edges(current: JobState, target: JobState) -> None:
    if (current, target) in DOCUMENTED_EDGES:
        assert transition(current, target) is target
    else:
        with pytest.raises(
            IllegalTransition, match=f"^job cannot go from {current.value} to {target.value}$"
        ):
            transition(current, target)


def test_docstring_states_every_edge() -> None:
    """The docstring the matrix above follows really draws or names each of these edges."""
    doc = jobs_module.__doc__ or ""
    assert "queued ──▶ assigned ──▶ running ──▶ completed" in doc
    assert "└────▶ failed" in doc
    assert "───────▶ cancelled" in doc
    assert "``assigned``/``running`` → ``queued`` is the requeue edge" in doc
    assert "``assigned`` → ``failed``" in doc


def test_terminal_states_have_no_exits() -> None:
    assert {s for s in JobState if s.terminal} == {C, F, X} == TERMINAL_STATES
    assert {Q, A, R} == ACTIVE_STATES
    assert TERMINAL_STATES.isdisjoint(ACTIVE_STATES)
    for state in TERMINAL_STATES:
        for target in JobState:
            with pytest.raises(IllegalTransition):
                transition(state, target)
    # Every active state can reach a terminal one, and every state is reachable from queued.
    reachable = {Q}
    while True:
        grown = reachable | {b for a, b in DOCUMENTED_EDGES if a in reachable}
        if grown == reachable:
            break
        reachable = grown
    assert reachable == set(JobState)


DE_BERLIN = NodeLabels(node_id="node-de-1", region="eu-central", country="DE", city="berlin")
FR_PARIS = NodeLabels(node_id="node-fr-1", region="eu-west", country="FR", city="paris")
BARE = NodeLabels(node_id="node-bare")


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (Route(), {"node-de-1", "node-fr-1", "node-bare"}),
        (Route(RouteKind.COUNTRY, "DE"), {"node-de-1"}),
        (Route(RouteKind.COUNTRY, "FR"), {"node-fr-1"}),
        (Route(RouteKind.COUNTRY, "US"), set()),
        (Route(RouteKind.REGION, "eu-west"), {"node-fr-1"}),
        (Route(RouteKind.REGION, "local"), {"node-bare"}),  # the default region of a node
        (Route(RouteKind.NODE, "node-de-1"), {"node-de-1"}),
        (Route(RouteKind.NODE, "node-de"), set()),
    ],
    ids=["any", "country-de", "country-fr", "country-us", "region", "default-region", "node", "node-prefix"],
)
def test_route_matches(route: Route, expected: set[str]) -> None:
    assert {node.node_id for node in (DE_BERLIN, FR_PARIS, BARE) if route.matches(node)} == expected


def test_route_round_trips_through_a_dict() -> None:
    for route in (Route(), Route(RouteKind.COUNTRY, "DE", fanout=3), Route(RouteKind.NODE, "n-1")):
        assert Route.from_dict(route.to_dict()) == route
    assert Route().to_dict() == {"kind": "any", "value": None, "fanout": 1}
    assert Route.from_dict({"kind": "region", "value": "eu"}) == Route(RouteKind.REGION, "eu", 1)


BILLABLE = {
    ErrorCode.WAIT_TIMEOUT,
    ErrorCode.RENDER_TIMEOUT,
    ErrorCode.NAVIGATION_FAILED,
    ErrorCode.INVALID_SELECTOR,
    ErrorCode.CAPTCHA_UNSOLVABLE,  # a definite answer about the target's captcha
    ErrorCode.STEP_FAILED,  # an automation step failed on the target page
    ErrorCode.AGENT_STEP_LIMIT,  # browsing: the task took every step the template allows
    ErrorCode.AGENT_STUCK,  # browsing: the agent's actions kept failing on the target, or it looped
    ErrorCode.AGENT_GAVE_UP,  # browsing: the agent worked and concluded the task cannot be done
    ErrorCode.TASK_TIMEOUT,  # browsing: the task's own timeout, like RENDER_TIMEOUT
}
NOT_BILLABLE = {
    ErrorCode.EGRESS_BLOCKED,
    ErrorCode.PROXY_UNAVAILABLE,
    ErrorCode.BROWSER_CRASHED,
    ErrorCode.NODE_LOST,
    ErrorCode.CANCELLED,
    ErrorCode.INTERNAL_ERROR,
    ErrorCode.CAPTCHA_TIMEOUT,  # the operator's solver was too slow
    ErrorCode.CAPTCHA_SOLVER_ERROR,  # the operator's solver is down, misconfigured or unpaid
    ErrorCode.SESSION_TIMEOUT,  # sessions are never charged per job (usage is recorded instead)
    ErrorCode.CONTEXT_RESTORE_FAILED,
    ErrorCode.EXTENSION_LOAD_FAILED,  # sessions are never charged per job
    ErrorCode.FETCH_TOO_LARGE,  # fetches are never charged (usage is recorded instead)
    ErrorCode.FETCH_TIMEOUT,
    ErrorCode.FETCH_FAILED,
    ErrorCode.LLM_NOT_CONFIGURED,  # the operator configured no model
    ErrorCode.LLM_PROVIDER_ERROR,  # the operator's model provider is down, slow or refuses
    ErrorCode.MEMORY_PRESSURE,  # the node ended a session to protect its machine
    ErrorCode.LLM_BAD_OUTPUT,  # the operator's model answers garbage
}


def test_every_error_code_has_a_table_entry() -> None:
    assert set(ERROR_CODES) == set(ErrorCode) == BILLABLE | NOT_BILLABLE
    for code in ErrorCode:
        assert code.value == code.name
        assert code.default_message.strip()
        assert code.default_message == ERROR_CODES[code].message


@pytest.mark.parametrize("code", list(ErrorCode), ids=[c.value for c in ErrorCode])
def test_which_error_codes_are_billable(code: ErrorCode) -> None:
    assert code.billable is (code in BILLABLE)


def test_docs_error_table_agrees_with_the_code() -> None:
    rows = re.findall(
        r"^\| `([A-Z_]+)` \| (yes|no) \|", (REPO / "docs" / "errors.md").read_text(), re.MULTILINE
    )
    documented = {name: flag == "yes" for name, flag in rows}
    assert documented == {code.value: code.billable for code in ErrorCode}


def test_job_failure_carries_code_and_message() -> None:
    default = JobFailure(ErrorCode.WAIT_TIMEOUT)
    assert (default.code, default.message) == (ErrorCode.WAIT_TIMEOUT, ErrorCode.WAIT_TIMEOUT.default_message)
    assert str(default) == ErrorCode.WAIT_TIMEOUT.default_message
    custom = JobFailure(ErrorCode.NAVIGATION_FAILED, "net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/")
    assert custom.message == str(custom) == "net::ERR_CONNECTION_REFUSED at http://127.0.0.1:9/"
