"""The in-process dispatcher of embedded mode (dispatch/local.py): tickets, routing, events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from browserfleet.core.jobs import JobKind, JobState, NodeLabels, Route, RouteKind
from browserfleet.dispatch.base import JobEvent, NodeInfo, Ticket
from browserfleet.dispatch.local import LocalDispatcher

ANYWHERE = NodeLabels(node_id="node-any")
DE_NODE = NodeLabels(node_id="node-de", region="eu-central", country="DE")
FR_NODE = NodeLabels(node_id="node-fr", region="eu-west", country="FR")
NOT_YET = 0.1  # how long a claim that must block is given to (wrongly) return


def _ticket(job_id: str, route: Route | None = None, kind: JobKind = JobKind.RENDER) -> Ticket:
    return Ticket(job_id=job_id, project_id="prj_1", kind=kind, route=route or Route())


async def _claim(dispatcher: LocalDispatcher, labels: NodeLabels) -> Ticket:
    return await asyncio.wait_for(dispatcher.claim(labels), 2.0)


async def _assert_blocks(dispatcher: LocalDispatcher, labels: NodeLabels) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(dispatcher.claim(labels), NOT_YET)


async def test_tickets_are_claimed_first_in_first_out() -> None:
    dispatcher = LocalDispatcher()
    tickets = [
        _ticket(f"job_{i}", kind=kind)
        for i, kind in enumerate([JobKind.RENDER, JobKind.STEPS, JobKind.RENDER])
    ]
    for ticket in tickets:
        await dispatcher.submit(ticket)
    assert await dispatcher.queued() == 3

    claimed = [await _claim(dispatcher, ANYWHERE) for _ in tickets]
    assert claimed == tickets
    assert await dispatcher.queued() == 0
    await _assert_blocks(dispatcher, ANYWHERE)


async def test_a_node_claims_only_tickets_its_labels_match() -> None:
    dispatcher = LocalDispatcher()
    for_de = _ticket("job_de", Route(RouteKind.COUNTRY, "DE"))
    for_anyone = _ticket("job_any")
    for_west = _ticket("job_west", Route(RouteKind.REGION, "eu-west"))
    for_node = _ticket("job_node", Route(RouteKind.NODE, "node-de"))
    for ticket in (for_de, for_anyone, for_west, for_node):
        await dispatcher.submit(ticket)

    # The FR node skips the older DE ticket and takes the oldest one it may run.
    assert await _claim(dispatcher, FR_NODE) == for_anyone
    assert await _claim(dispatcher, FR_NODE) == for_west
    await _assert_blocks(dispatcher, FR_NODE)  # a DE route is never claimed by a node in FR
    await _assert_blocks(dispatcher, ANYWHERE)  # nor by a node without a country
    assert await dispatcher.queued() == 2  # the blocked claims took nothing

    assert await _claim(dispatcher, DE_NODE) == for_de
    assert await _claim(dispatcher, DE_NODE) == for_node
    assert await dispatcher.queued() == 0


async def test_withdraw_removes_only_unclaimed_tickets() -> None:
    dispatcher = LocalDispatcher()
    first, second, third = _ticket("job_1"), _ticket("job_2"), _ticket("job_3")
    for ticket in (first, second, third):
        await dispatcher.submit(ticket)

    assert await dispatcher.withdraw("job_2") is True
    assert await dispatcher.queued() == 2
    assert await dispatcher.withdraw("job_2") is False
    assert await dispatcher.withdraw("job_unknown") is False

    assert await _claim(dispatcher, ANYWHERE) == first
    assert await dispatcher.withdraw("job_1") is False  # already claimed
    assert await _claim(dispatcher, ANYWHERE) == third
    assert await dispatcher.queued() == 0


async def test_claim_blocks_until_a_matching_submit() -> None:
    dispatcher = LocalDispatcher()
    waiting_de = asyncio.create_task(dispatcher.claim(DE_NODE))
    waiting_any = asyncio.create_task(dispatcher.claim(ANYWHERE))
    await asyncio.sleep(NOT_YET)
    assert not waiting_de.done() and not waiting_any.done()

    fr_only = _ticket("job_fr", Route(RouteKind.COUNTRY, "FR"))
    await dispatcher.submit(fr_only)
    await asyncio.sleep(NOT_YET)
    assert not waiting_de.done() and not waiting_any.done()  # neither may run it
    assert await dispatcher.queued() == 1

    de_ticket = _ticket("job_de", Route(RouteKind.COUNTRY, "DE"))
    await dispatcher.submit(de_ticket)
    assert await asyncio.wait_for(waiting_de, 2) == de_ticket
    assert not waiting_any.done()

    anyone = _ticket("job_any")
    await dispatcher.submit(anyone)
    assert await asyncio.wait_for(waiting_any, 2) == anyone
    assert await _claim(dispatcher, FR_NODE) == fr_only


async def test_duplicate_submit_is_ignored_until_claimed() -> None:
    dispatcher = LocalDispatcher()
    ticket = _ticket("job_dup")
    await dispatcher.submit(ticket)
    await dispatcher.submit(ticket)
    await dispatcher.submit(_ticket("job_dup", Route(RouteKind.COUNTRY, "DE")))  # same job, other route
    assert await dispatcher.queued() == 1

    assert await _claim(dispatcher, ANYWHERE) == ticket
    await _assert_blocks(dispatcher, ANYWHERE)

    # Once claimed, the same job may be submitted again (the requeue after a browser crash).
    await dispatcher.submit(ticket)
    assert await dispatcher.queued() == 1
    assert await _claim(dispatcher, ANYWHERE) == ticket


async def _next(events: AsyncIterator[JobEvent], within: float = 2.0) -> JobEvent:
    return await asyncio.wait_for(anext(events), within)


async def test_publish_reaches_every_subscriber_until_it_closes() -> None:
    dispatcher = LocalDispatcher()
    first, second = dispatcher.subscribe(), dispatcher.subscribe()
    first_events, second_events = aiter(first), aiter(second)
    sent = [
        JobEvent("job_1", "prj_1", JobState.RUNNING),
        JobEvent("job_1", "prj_1", JobState.COMPLETED),
        JobEvent("job_2", "prj_2", kind="cancel"),
    ]
    for event in sent:
        await dispatcher.publish(event)
    assert [await _next(first_events) for _ in sent] == sent
    assert [await _next(second_events) for _ in sent] == sent

    await first.close()
    after_close = JobEvent("job_3", "prj_1", JobState.FAILED)
    await dispatcher.publish(after_close)
    assert await _next(second_events) == after_close
    with pytest.raises(TimeoutError):
        await _next(first_events, NOT_YET)

    late = dispatcher.subscribe()  # a new subscriber sees only what is published after it joined
    late_events = aiter(late)
    newest = JobEvent("job_4", "prj_1", JobState.QUEUED)
    await dispatcher.publish(newest)
    assert await _next(late_events) == newest
    assert await _next(second_events) == newest

    for subscription, events in ((second, second_events), (late, late_events)):
        await subscription.close()
        await events.aclose()  # type: ignore[attr-defined]


async def test_local_registry_tracks_heartbeats() -> None:
    dispatcher = LocalDispatcher()
    de = NodeInfo(labels=DE_NODE, slots=4)
    await dispatcher.registry.heartbeat(de)
    await dispatcher.registry.heartbeat(NodeInfo(labels=FR_NODE, slots=2))
    assert de.last_seen is not None
    nodes = {n.node_id: n for n in await dispatcher.registry.nodes()}
    assert {node_id: n.slots for node_id, n in nodes.items()} == {"node-de": 4, "node-fr": 2}

    await dispatcher.registry.heartbeat(NodeInfo(labels=DE_NODE, slots=8, in_use=3))  # refresh, not add
    await dispatcher.registry.remove("node-fr")
    await dispatcher.registry.remove("node-unknown")
    nodes = {n.node_id: n for n in await dispatcher.registry.nodes()}
    assert list(nodes) == ["node-de"]
    assert (nodes["node-de"].slots, nodes["node-de"].in_use) == (8, 3)
