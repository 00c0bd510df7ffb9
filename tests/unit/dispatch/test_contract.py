"""The Dispatcher / NodeRegistry contract (dispatch/base.py), run against every implementation.

Each backend gives a *pair*: the submitting process and a claiming one (the in-process dispatcher
is both; two Redis dispatchers on one prefix stand for two processes). A third backend is added by
adding one entry to :data:`BACKENDS`. What only one backend does (Redis: reclaiming a dead
claimer's tickets, heartbeats expiring, shared limits; local: nothing extra) stays in
test_local.py / test_redis.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from browserfleet.core.jobs import JobKind, JobState, NodeLabels, Route, RouteKind
from browserfleet.core.load import NodeLoad
from browserfleet.dispatch.base import Dispatcher, JobEvent, NodeInfo, Ticket
from browserfleet.dispatch.local import LocalDispatcher
from browserfleet.dispatch.redis import RedisDispatcher

ANYWHERE = NodeLabels(node_id="node-any")
DE_NODE = NodeLabels(node_id="node-de", region="eu-central", country="DE")
FR_NODE = NodeLabels(node_id="node-fr", region="eu-west", country="FR")
NOT_YET = 0.2  # how long a claim that must block is given to (wrongly) return

Pair = tuple[Dispatcher, Dispatcher]


@asynccontextmanager
async def local_pair(_: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    dispatcher = LocalDispatcher()
    await dispatcher.start()
    try:
        yield dispatcher, dispatcher
    finally:
        await dispatcher.close()


@asynccontextmanager
async def redis_pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    url = request.getfixturevalue("redis_server").url
    prefix = f"c{uuid.uuid4().hex[:8]}"
    first, second = RedisDispatcher(url, prefix=prefix), RedisDispatcher(url, prefix=prefix)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], AbstractAsyncContextManager[Pair]]] = {
    "local": local_pair,
    "redis": redis_pair,
}


@pytest.fixture(
    params=[
        pytest.param("local"),
        pytest.param("redis", marks=pytest.mark.xdist_group("distributed")),
    ]
)
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    async with BACKENDS[request.param](request) as dispatchers:
        yield dispatchers


def _ticket(job_id: str, route: Route | None = None, kind: JobKind = JobKind.RENDER) -> Ticket:
    return Ticket(job_id=job_id, project_id="prj_1", kind=kind, route=route or Route())


async def _claim(dispatcher: Dispatcher, labels: NodeLabels, kinds: set[JobKind] | None = None) -> Ticket:
    return await asyncio.wait_for(dispatcher.claim(labels, frozenset(kinds) if kinds else None), 3.0)


async def _assert_blocks(dispatcher: Dispatcher, labels: NodeLabels) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(dispatcher.claim(labels), NOT_YET)


def _ids(tickets: list[Ticket]) -> list[str]:
    return [t.job_id for t in tickets]


async def test_tickets_are_claimed_oldest_first_across_kinds(pair: Pair) -> None:
    submitter, claimer = pair
    tickets = [
        _ticket(f"job_{i}", kind=kind)
        for i, kind in enumerate([JobKind.RENDER, JobKind.STEPS, JobKind.RENDER])
    ]
    for ticket in tickets:
        await submitter.submit(ticket)
    assert await submitter.queued() == 3
    assert await submitter.queued_by_kind() == {JobKind.RENDER: 2, JobKind.STEPS: 1}
    claimed = [await _claim(claimer, ANYWHERE) for _ in tickets]
    assert _ids(claimed) == _ids(tickets)
    assert [t.kind for t in claimed] == [t.kind for t in tickets]
    assert await submitter.queued() == 0
    assert not any((await submitter.queued_by_kind()).values())
    await _assert_blocks(claimer, ANYWHERE)


async def test_a_node_claims_only_tickets_its_labels_match(pair: Pair) -> None:
    submitter, claimer = pair
    for_de = _ticket("job_de", Route(RouteKind.COUNTRY, "DE"))
    for_anyone = _ticket("job_any")
    for_west = _ticket("job_west", Route(RouteKind.REGION, "eu-west"))
    for_node = _ticket("job_node", Route(RouteKind.NODE, "node-de"))
    for ticket in (for_de, for_anyone, for_west, for_node):
        await submitter.submit(ticket)

    # The FR node skips the older DE ticket and takes the oldest one it may run.
    assert (await _claim(claimer, FR_NODE)).job_id == "job_any"
    assert (await _claim(claimer, FR_NODE)).job_id == "job_west"
    await _assert_blocks(claimer, FR_NODE)  # a DE route is never claimed by a node in FR
    await _assert_blocks(claimer, ANYWHERE)  # nor by a node without a country
    assert await submitter.queued() == 2  # the blocked claims took nothing
    de_first = await _claim(claimer, DE_NODE)
    assert (de_first.job_id, de_first.route) == ("job_de", Route(RouteKind.COUNTRY, "DE"))
    assert (await _claim(claimer, DE_NODE)).job_id == "job_node"
    assert await submitter.queued() == 0


async def test_kinds_keep_their_own_slots(pair: Pair) -> None:
    submitter, claimer = pair
    await submitter.submit(_ticket("ses_1", kind=JobKind.SESSION))
    await submitter.submit(_ticket("ren_1"))
    assert (await _claim(claimer, ANYWHERE, {JobKind.RENDER})).job_id == "ren_1"
    assert (await _claim(claimer, ANYWHERE, {JobKind.SESSION})).job_id == "ses_1"


async def test_withdraw_removes_only_unclaimed_tickets(pair: Pair) -> None:
    submitter, claimer = pair
    for job_id in ("job_1", "job_2", "job_3"):
        await submitter.submit(_ticket(job_id))
    assert await submitter.withdraw("job_2") is True
    assert await submitter.queued() == 2
    assert await submitter.withdraw("job_2") is False
    assert await submitter.withdraw("job_unknown") is False
    assert (await _claim(claimer, ANYWHERE)).job_id == "job_1"
    assert await submitter.withdraw("job_1") is False  # already claimed
    assert (await _claim(claimer, ANYWHERE)).job_id == "job_3"
    assert await submitter.queued() == 0


async def test_claim_blocks_until_a_matching_submit(pair: Pair) -> None:
    submitter, claimer = pair
    waiting_de = asyncio.create_task(claimer.claim(DE_NODE))
    waiting_any = asyncio.create_task(claimer.claim(ANYWHERE))
    await asyncio.sleep(NOT_YET)
    assert not waiting_de.done() and not waiting_any.done()

    await submitter.submit(_ticket("job_fr", Route(RouteKind.COUNTRY, "FR")))
    await asyncio.sleep(NOT_YET)
    assert not waiting_de.done() and not waiting_any.done()  # neither may run it
    assert await submitter.queued() == 1

    await submitter.submit(_ticket("job_de", Route(RouteKind.COUNTRY, "DE")))
    assert (await asyncio.wait_for(waiting_de, 3)).job_id == "job_de"
    assert not waiting_any.done()
    await submitter.submit(_ticket("job_any"))
    assert (await asyncio.wait_for(waiting_any, 3)).job_id == "job_any"
    assert (await _claim(claimer, FR_NODE)).job_id == "job_fr"


async def test_a_second_submit_of_a_waiting_job_is_a_no_op(pair: Pair) -> None:
    submitter, claimer = pair
    ticket = _ticket("job_dup")
    await submitter.submit(ticket)
    await submitter.submit(ticket)
    assert await submitter.queued() == 1
    assert (await _claim(claimer, ANYWHERE)).job_id == "job_dup"
    await _assert_blocks(claimer, ANYWHERE)


async def _next(events: AsyncIterator[JobEvent], within: float = 2.0) -> JobEvent:
    return await asyncio.wait_for(anext(events), within)


async def test_events_reach_every_subscriber(pair: Pair) -> None:
    submitter, claimer = pair
    here, there = submitter.subscribe(), claimer.subscribe()
    here_events, there_events = aiter(here), aiter(there)
    await asyncio.sleep(0.1)  # a subscription across processes is live once it is listening
    sent = [
        JobEvent("job_1", "prj_1", JobState.RUNNING),
        JobEvent("job_1", "prj_1", JobState.COMPLETED),
        JobEvent("ses_1", "prj_2", kind="release"),
    ]
    await claimer.publish(sent[0])
    await submitter.publish(sent[1])
    await submitter.publish(sent[2])
    assert [await _next(here_events) for _ in sent] == sent
    assert [await _next(there_events) for _ in sent] == sent
    for subscription in (here, there):
        await subscription.close()


async def test_a_subscription_gets_only_the_jobs_and_kinds_it_names(pair: Pair) -> None:
    submitter, claimer = pair
    one_job = submitter.subscribe(["job_1"])
    two_jobs = claimer.subscribe(["job_1", "job_2"])
    cancels = claimer.subscribe(kinds={"cancel"})
    everything = submitter.subscribe()
    streams = [aiter(s) for s in (one_job, two_jobs, cancels, everything)]
    await asyncio.sleep(0.1)  # a subscription across processes is live once it is listening
    sent = [
        JobEvent("job_2", "prj_1", JobState.RUNNING),
        JobEvent("job_3", "prj_1", JobState.RUNNING),
        JobEvent("job_1", "prj_1", JobState.COMPLETED),
        JobEvent("job_3", "prj_1", kind="cancel"),
        JobEvent("job_2", "prj_1", JobState.CANCELLED),
    ]
    for event in sent:
        await claimer.publish(event)
    wanted = [
        [sent[2]],
        [sent[0], sent[2], sent[4]],
        [sent[3]],
        sent,
    ]
    for events, expected in zip(streams, wanted, strict=True):
        assert [await _next(events) for _ in expected] == expected
        with pytest.raises(TimeoutError):
            await _next(events, NOT_YET)  # nothing else: another job's events never reach it
    for subscription in (one_job, two_jobs, cancels, everything):
        await subscription.close()


async def test_the_registry_knows_live_nodes(pair: Pair) -> None:
    submitter, claimer = pair
    load = NodeLoad(
        machine="m1",
        cores=2.0,
        cpu_percent=37.5,
        memory_total=24 << 30,
        memory_available=20 << 30,
        memory_floor=1 << 30,
        browsers_pss=3 << 30,
        runs_sessions=True,
        sessions=7,
        session_limit=300,
        session_pss=50 << 20,
        cpu_slots=4,
        running={"session": 7, "render": 1},
    )
    de = NodeInfo(
        labels=DE_NODE, slots=4, in_use=1, version="1.2", advertised_url="http://127.0.0.1:9", load=load
    )
    await claimer.registry.heartbeat(de)
    await claimer.registry.heartbeat(NodeInfo(labels=FR_NODE, slots=2))
    nodes = {n.node_id: n for n in await submitter.registry.nodes()}
    assert {node_id: n.slots for node_id, n in nodes.items()} == {"node-de": 4, "node-fr": 2}
    seen = nodes["node-de"]
    assert (seen.labels, seen.in_use, seen.version, seen.advertised_url) == (
        DE_NODE,
        1,
        "1.2",
        "http://127.0.0.1:9",
    )
    assert seen.load == load  # what a node reports of its machine and room travels whole
    assert nodes["node-fr"].load is None
    assert seen.last_seen is not None

    await claimer.registry.heartbeat(NodeInfo(labels=DE_NODE, slots=8, in_use=3))  # refresh, not add
    await claimer.registry.remove("node-fr")
    await claimer.registry.remove("node-unknown")
    nodes = {n.node_id: n for n in await submitter.registry.nodes()}
    assert list(nodes) == ["node-de"]
    assert (nodes["node-de"].slots, nodes["node-de"].in_use) == (8, 3)


async def test_optional_capabilities_are_declared(pair: Pair) -> None:
    """Shared locks and limiters: a dispatcher across processes provides them, an in-process one
    says None (core then uses its own)."""
    submitter, _ = pair
    locks, limiter = submitter.project_locks(), submitter.rate_limiter(3, 1.0)
    if isinstance(submitter, LocalDispatcher):
        assert (locks, limiter) == (None, None)
    else:
        assert locks is not None and limiter is not None
        async with locks.hold("prj_1"):
            await limiter.hit("key")
