"""Routing on one machine with three local nodes (bn-de-1, bn-de-2 in DE; bn-fr-1 in FR) beside
the main node: filters, session_key affinity with a kept browser session, and fanout races."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from browserfleet.core.jobs import JobKind
from tests.support.browsing import Browsing, EventLog, race_model
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.llm_standin import LLMStandIn, Reply, Seen, call

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browsing")]
BASE = "/api/v1/browsing"


def answer_at_once(llm: LLMStandIn, result: str = "ok") -> None:
    llm.play(lambda seen: call("done", success=True, result=result))


def pool_contexts(server: RunningServer) -> int:
    assert server.fleet.pool is not None
    return sum(b.contexts for b in server.fleet.pool.browsers)


def test_node_uid_runs_on_that_node_only(client: Browsing, llm: LLMStandIn) -> None:
    answer_at_once(llm)
    for _ in range(3):
        done = client.run(task="anything", filter={"node_uid": "bn-fr-1"})
        assert done["status"] == "completed" and done["info"]["node_id"] == "bn-fr-1"


def test_country_routes_to_its_nodes(client: Browsing, llm: LLMStandIn) -> None:
    answer_at_once(llm)
    nodes = {client.run(task="anything", filter={"country_iso": "de"})["info"]["node_id"] for _ in range(4)}
    assert nodes <= {"bn-de-1", "bn-de-2"} and nodes
    assert client.run(task="x", filter={"country_iso": "FR"})["info"]["node_id"] == "bn-fr-1"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"filter": {"country_iso": "US"}}, "No live browsing node in country US"),
        ({"filter": {"node_uid": "nowhere-1"}}, "No live browsing node with node_uid 'nowhere-1'"),
        (
            {"filter": {"country_iso": "DE"}, "fanout": 3},
            "fanout 3 needs 3 distinct eligible nodes; 2 are live (bn-de-1, bn-de-2)",
        ),
        (
            {"session_key": "k", "fanout": 2},
            "session_key cannot be combined with fanout > 1 (a session runs on one node)",
        ),
        (
            {"filter": {"country_iso": "DE", "node_uid": "bn-de-1"}},
            "filter: country_iso and node_uid are mutually exclusive: give only one",
        ),
        ({"fanout": 11}, "fanout: Input should be less than or equal to 10"),
    ],
)
def test_unroutable_tasks_are_400(
    client: Browsing, llm: LLMStandIn, body: dict[str, object], message: str
) -> None:
    response = client.http.post(f"{BASE}/async", json={"task": "anything", **body})
    assert response.status_code == 400 and response.json() == {"error": message}
    assert llm.requests == []


def session_model(site_url: str, user: str) -> Callable[[Seen], Reply]:
    """Sign in when asked to; otherwise open the shop and report the account line."""

    def reply(seen: Seen) -> Reply:
        state = seen.last_user_text()
        task = seen.messages[1]["content"]
        if "sign in" in task and "Welcome" not in state:
            return call("navigate", url=f"{site_url}/shop/login?user={user}")
        if "sign in" in task:
            return call("done", success=True, result="signed in")
        if "/shop?" not in state.split("Title:")[0] and not state.split("Title:")[0].rstrip().endswith(
            "/shop"
        ):
            return call("navigate", url=f"{site_url}/shop")
        account = next(line for line in state.splitlines() if "igned in" in line)
        return call("done", success=True, result=account)

    return reply


def test_session_key_keeps_cookies_and_tab_on_its_node(
    client: Browsing, llm: LLMStandIn, site_url: str
) -> None:
    user, key = f"ada-{uuid.uuid4().hex[:6]}", f"key-{uuid.uuid4().hex[:6]}"
    llm.play(session_model(site_url, user))
    first = client.run(task="Please sign in", session_key=key, filter={"node_uid": "bn-de-2"})
    assert first["status"] == "completed" and first["info"]["node_id"] == "bn-de-2"

    llm.play(session_model(site_url, user))
    second = client.run(task="Who is signed in at the shop?", session_key=key)  # no filter: follows the key
    assert second["status"] == "completed", second
    assert second["payload"] == f"Signed in as {user}"  # the cookie the first task got
    assert second["info"]["node_id"] == "bn-de-2"
    # the tab the first task left open is where the second one starts
    assert f"Current page: {site_url}/shop/login?user={user}" in llm.requests[0].last_user_text()

    llm.play(session_model(site_url, user))
    other = client.run(task="Who is signed in at the shop?", session_key=f"{key}-other")
    assert other["payload"] == "Not signed in"
    assert "Current page: about:blank" in llm.requests[0].last_user_text()


def test_fanout_first_success_wins_and_the_others_are_cancelled(
    harness: FleetHarness, bserver: RunningServer, client: Browsing, llm: LLMStandIn, site_url: str
) -> None:
    """The first attempt to ask gets to work once all three are running (its answer is held until
    the third asks); the other two wait on the model until they are cancelled (their model calls
    are abandoned, their contexts closed)."""
    reply, started = race_model(llm, site_url, losers_wait_s=30)
    llm.play(reply)
    contexts_before = pool_contexts(bserver)
    events = EventLog(harness, bserver)
    try:
        task_id = client.start(task="Race me", fanout=3)
        done = client.wait(task_id)
        deadline = time.monotonic() + 15
        while pool_contexts(bserver) != contexts_before and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        events.close()

    assert done["status"] == "completed" and done["payload"] == "raced and won", done
    attempts = done["info"]["attempts"]
    assert len({a["node_id"] for a in attempts}) == 3  # three distinct nodes
    assert sorted(a["status"] for a in attempts) == ["cancelled", "cancelled", "completed"]
    assert len(started) == 3  # all three were running (each asked the model)
    winner = next(a for a in attempts if a["status"] == "completed")
    assert done["info"]["node_id"] == winner["node_id"]
    ids = [task_id, *(f"{task_id}-{n}" for n in range(2, 4))]  # attempts in order
    losers = [job_id for job_id, a in zip(ids, attempts, strict=True) if a["status"] == "cancelled"]
    for loser in losers:
        assert "cancel" in events.kinds(loser)  # asked to stop
        assert events.states(loser)[-1] == "cancelled"
    # their browsers were released: no context is left open, no egress channel either
    assert pool_contexts(bserver) == contexts_before
    assert bserver.fleet.egress is not None and bserver.fleet.egress.open_channels == sum(
        1
        for _ in bserver.fleet.executors[JobKind.AGENT].sessions.keys  # type: ignore[union-attr]
    )
