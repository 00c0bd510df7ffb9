"""Live sessions at scale on a default server, and "full" as a fast, retryable answer.

* A client creates 60 sessions without releasing any: on a default server (no ``session_slots``,
  a new project's default concurrency) every create is a 201 and every session answers over CDP;
  ``/pressure`` counts them while they live and none once they are released.
* A project limited to 5: the 6th create answers 429 with ``Retry-After`` and ``x-should-retry:
  true`` well within 2 s, and the official ``browserbase`` SDK retries it and succeeds once one of
  the five is released.
* A fleet without room (``session_slots=2``): the 3rd create is a fast 429 the SDK retries too,
  never the 30 s stall and 503 of before.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from browserbase import Browserbase

from tests.capacity.conftest import cdp_product, pressure, wait_for
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("capacity")]
MANY = 60
FULL_WITHIN_S = 2.0


@pytest.fixture(scope="module")
def server_settings() -> dict[str, object]:
    return {}  # the default server


def create_raw(server: RunningServer, key: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = httpx.post(
        f"{server.url}/v1/sessions", headers={"X-BB-API-Key": key}, json={"keepAlive": True}, timeout=60
    )
    return response, time.perf_counter() - started


def release_all(client: Browserbase, ids: list[str]) -> None:
    with ThreadPoolExecutor(8) as pool:
        ended = list(pool.map(lambda sid: client.sessions.update(sid, status="REQUEST_RELEASE"), ids))
    assert {s.status for s in ended} == {"COMPLETED"}


def assert_fast_retryable_429(response: httpx.Response, seconds: float) -> None:
    assert response.status_code == 429, response.text
    assert seconds < FULL_WITHIN_S, f"429 took {seconds:.2f} s"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-should-retry"] == "true"
    body = response.json()
    assert (body["statusCode"], body["error"]) == (429, "Too Many Requests")


def test_sixty_sessions_without_release_all_start_and_answer_cdp(
    harness: FleetHarness, cserver: RunningServer
) -> None:
    assert cserver.settings.session_slots is None and cserver.settings.node_slots is None
    key = harness.new_key(cserver, concurrency=None)  # a new project's default limit
    client = Browserbase(api_key=key, base_url=cserver.url, max_retries=0)
    before = pressure(cserver)
    assert before["sessions"]["running"] == 0
    assert before["limits"]["sessions"] >= 100  # the machine holds a hundred idle sessions

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: create_raw(cserver, key), range(MANY)))
    ids = [response.json().get("id") for response, _ in answers]
    try:
        assert [response.status_code for response, _ in answers] == [201] * MANY, [
            response.text for response, _ in answers if response.status_code != 201
        ][:3]
        assert {response.json()["status"] for response, _ in answers} == {"RUNNING"}
        with ThreadPoolExecutor(6) as pool:
            products = list(pool.map(lambda r: cdp_product(r[0].json()["connectUrl"]), answers))
        assert all("Chrome" in product for product in products), products[:3]

        during = pressure(cserver)
        assert during["sessions"]["running"] == MANY
        assert during["kinds"]["session"]["running"] == MANY
        assert during["sessions"]["limit"] >= MANY
        assert during["accepting"] is True
    finally:
        release_all(client, [sid for sid in ids if sid])
    after = wait_for(lambda: (p := pressure(cserver))["sessions"]["running"] == 0 and p, 30, "no session")
    assert after["kinds"]["session"] == {"running": 0, "queued": 0}


def test_project_limit_is_a_fast_429_the_sdk_retries_once_a_slot_frees(
    harness: FleetHarness, cserver: RunningServer
) -> None:
    key = harness.new_key(cserver, concurrency=5)
    client = Browserbase(api_key=key, base_url=cserver.url, max_retries=0)
    held = [client.sessions.create(keep_alive=True).id for _ in range(5)]
    try:
        response, seconds = create_raw(cserver, key)
        assert_fast_retryable_429(response, seconds)
        assert response.json()["message"] == "Concurrent session limit reached (5/5). Maximum allowed: 5"

        statuses: list[int] = []
        first_refusal = threading.Event()

        def seen(response: httpx.Response) -> None:
            statuses.append(response.status_code)
            if response.status_code == 429:
                first_refusal.set()

        with httpx.Client(event_hooks={"response": [seen]}) as http:
            # the SDK retries after each Retry-After; a few tries leave a loaded machine time to
            # end the released session
            retrying = Browserbase(api_key=key, base_url=cserver.url, http_client=http, max_retries=5)
            with ThreadPoolExecutor(1) as pool:
                created = pool.submit(retrying.sessions.create, keep_alive=True)
                assert first_refusal.wait(10), "the SDK's first try should meet the limit"
                client.sessions.update(held.pop(0), status="REQUEST_RELEASE")  # a slot frees
                session = created.result(30)
        held.append(session.id)
        assert session.status == "RUNNING"
        assert statuses[0] == 429 and statuses[-1] == 201, statuses
    finally:
        release_all(client, held)


def test_a_full_fleet_is_a_fast_429_not_a_503(harness: FleetHarness) -> None:
    small = harness.server(session_slots=2)
    try:
        key = harness.new_key(small, concurrency=None)
        client = Browserbase(api_key=key, base_url=small.url, max_retries=0)
        held = [client.sessions.create(keep_alive=True).id for _ in range(2)]
        try:
            response, seconds = create_raw(small, key)
            assert_fast_retryable_429(response, seconds)
            assert "No browser node has room for another live session" in response.json()["message"]
            assert "all 2 session slots in use" in response.json()["message"]
            full = pressure(small)
            assert (full["sessions"]["running"], full["sessions"]["room"]) == (2, 0)
            assert full["nodes"][0]["sessions"]["reason"] == "all 2 session slots in use"
            listed = client.sessions.list()
            assert sorted(s.id for s in listed) == sorted(held)  # a refused create leaves no trace
        finally:
            release_all(client, held)
        again = client.sessions.create()  # room again
        assert again.status == "RUNNING"
        client.sessions.update(again.id, status="REQUEST_RELEASE")
    finally:
        harness.stop_server(small)


def test_a_session_taken_as_the_wait_ends_is_answered_once_its_browser_is_up(harness: FleetHarness) -> None:
    """``session_queue_wait_s=0``: every create races its node. Whatever wins, the answer is
    either a 429 (withdrawn in time, nothing kept) or a 201 whose browser already answers over
    CDP — never a 201 for a session that is not live yet."""
    racing = harness.server(session_queue_wait_s=0)
    try:
        key = harness.new_key(racing, concurrency=None)
        client = Browserbase(api_key=key, base_url=racing.url, max_retries=0)
        statuses, created = [], []
        for _ in range(8):
            response, _seconds = create_raw(racing, key)
            statuses.append(response.status_code)
            if response.status_code == 201:
                created.append(response.json()["id"])
                assert "Chrome" in cdp_product(response.json()["connectUrl"])
        assert set(statuses) <= {201, 429}, statuses
        assert sorted(s.id for s in client.sessions.list()) == sorted(created)
        release_all(client, created)
    finally:
        harness.stop_server(racing)
