"""The Redis dispatcher of distributed mode (dispatch/redis/) against a real redis-server.

Two dispatcher instances on one Redis stand for two processes (a control plane and a node, or two
nodes); each test has its own key prefix.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from browserfleet.core.errors import RateLimited
from browserfleet.core.jobs import JobKind, NodeLabels, Route, RouteKind
from browserfleet.dispatch.base import NodeInfo, Ticket
from browserfleet.dispatch.redis import RedisDispatcher
from tests.support.redis import RedisServer

pytestmark = pytest.mark.xdist_group("distributed")

ANYWHERE = NodeLabels(node_id="node-any")
DE_NODE = NodeLabels(node_id="node-de", region="eu-central", country="DE")
FR_NODE = NodeLabels(node_id="node-fr", region="eu-west", country="FR")
NOT_YET = 0.2


def _ticket(job_id: str, route: Route | None = None, kind: JobKind = JobKind.RENDER) -> Ticket:
    return Ticket(job_id=job_id, project_id="prj_1", kind=kind, route=route or Route())


@pytest.fixture
async def pair(redis_server: RedisServer) -> AsyncIterator[tuple[RedisDispatcher, RedisDispatcher]]:
    """Two processes' dispatchers on one prefix (TTL 0.6 s: reclaim tests stay short)."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    first = RedisDispatcher(redis_server.url, prefix=prefix, ttl_s=0.6)
    second = RedisDispatcher(redis_server.url, prefix=prefix, ttl_s=0.6)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def _claim(
    dispatcher: RedisDispatcher, labels: NodeLabels, kinds: set[JobKind] | None = None
) -> Ticket:
    return await asyncio.wait_for(dispatcher.claim(labels, frozenset(kinds) if kinds else None), 3.0)


async def _assert_blocks(dispatcher: RedisDispatcher, labels: NodeLabels) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(dispatcher.claim(labels), NOT_YET)


async def test_oldest_first_across_kinds_and_routes(pair: tuple[RedisDispatcher, RedisDispatcher]) -> None:
    control, node = pair
    submitted = [
        _ticket("job_1", kind=JobKind.STEPS),
        _ticket("job_2", Route(RouteKind.COUNTRY, "DE")),
        _ticket("job_3"),
        _ticket("job_4", Route(RouteKind.NODE, "node-de"), kind=JobKind.FETCH),
    ]
    for ticket in submitted:
        await control.submit(ticket)
    await control.submit(submitted[0])  # a second submit of a waiting job is a no-op
    assert await control.queued() == 4
    claimed = [await _claim(node, DE_NODE) for _ in submitted]
    assert [t.job_id for t in claimed] == ["job_1", "job_2", "job_3", "job_4"]
    assert claimed[1].route == Route(RouteKind.COUNTRY, "DE")
    assert claimed[3].kind is JobKind.FETCH
    assert all(t.receipt for t in claimed)
    assert await control.queued() == 0
    await _assert_blocks(node, DE_NODE)


async def test_a_waiting_claim_wakes_within_milliseconds(
    pair: tuple[RedisDispatcher, RedisDispatcher],
) -> None:
    control, node = pair
    waiting = asyncio.create_task(node.claim(ANYWHERE))
    await asyncio.sleep(0.1)
    started = time.perf_counter()
    await control.submit(_ticket("job_late"))
    ticket = await asyncio.wait_for(waiting, 2)
    assert ticket.job_id == "job_late"
    assert time.perf_counter() - started < 0.1  # woken by the wake-up, not the 1 s poll


async def test_tickets_of_a_dead_claimer_are_reclaimed(redis_server: RedisServer) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    control = RedisDispatcher(redis_server.url, prefix=prefix, ttl_s=0.6)
    alive = RedisDispatcher(redis_server.url, prefix=prefix, ttl_s=0.6)
    dying = RedisDispatcher(redis_server.url, prefix=prefix, ttl_s=0.6)
    for dispatcher in (control, alive, dying):
        await dispatcher.start()
    try:
        await control.submit(_ticket("job_kept"))
        await control.submit(_ticket("job_lost"))
        kept = await _claim(alive, ANYWHERE)
        lost = await _claim(dying, ANYWHERE)
        assert (kept.job_id, lost.job_id) == ("job_kept", "job_lost")
        await dying.close()  # stops renewing its claim, as a killed process would
        assert await control.reclaim() == []  # not idle long enough yet
        await asyncio.sleep(1.0)
        reclaimed = await control.reclaim()
        assert [t.job_id for t in reclaimed] == ["job_lost"]  # the live claimer renewed its own
        assert await control.reclaim() == []  # taken back once
        await alive.done(kept)
        await asyncio.sleep(1.0)
        assert await control.reclaim() == []
    finally:
        await control.close()
        await alive.close()


async def test_registry_heartbeats_expire(pair: tuple[RedisDispatcher, RedisDispatcher]) -> None:
    control, node = pair
    info = NodeInfo(labels=DE_NODE, slots=4, in_use=1, version="1.2", advertised_url="http://127.0.0.1:9")
    await node.registry.heartbeat(info)
    [seen] = await control.registry.nodes()
    assert seen.labels == DE_NODE
    assert (seen.slots, seen.in_use, seen.version, seen.advertised_url) == (4, 1, "1.2", "http://127.0.0.1:9")
    assert seen.last_seen is not None
    await asyncio.sleep(1.0)
    assert [n.node_id for n in await control.registry.nodes()] == ["node-de"]  # kept alive
    node.registry.local.clear()  # the node stops heartbeating (its process died)
    await asyncio.sleep(0.9)
    assert await control.registry.nodes() == []
    await node.registry.heartbeat(info)
    await node.registry.remove("node-de")
    assert await control.registry.nodes() == []


async def test_rate_limit_is_shared(pair: tuple[RedisDispatcher, RedisDispatcher]) -> None:
    control, other = pair
    first, second = control.rate_limiter(3, 0.5), other.rate_limiter(3, 0.5)
    await first.hit("key")
    await second.hit("key")
    await first.hit("key")
    with pytest.raises(RateLimited) as refused:
        await second.hit("key")
    assert refused.value.retry_after_s == 1
    await second.hit("other-key")
    await asyncio.sleep(0.6)
    await second.hit("key")


async def test_project_locks_are_shared(pair: tuple[RedisDispatcher, RedisDispatcher]) -> None:
    control, other = pair
    order: list[str] = []

    async def hold(locks_of: RedisDispatcher, name: str) -> None:
        async with locks_of.project_locks().hold("prj_1"):
            order.append(f"{name}+")
            await asyncio.sleep(0.1)
            order.append(f"{name}-")

    await asyncio.gather(hold(control, "a"), hold(other, "b"))
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])
